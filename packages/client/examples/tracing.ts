import { createClient } from "@mta/client"
import { startSimulatorServer } from "@mta/testkit"
import { context, trace } from "@opentelemetry/api"
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks"
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"

// The application brings the SDK (here spans are kept in memory); the client uses only the API.
const exporter = new InMemorySpanExporter()
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
trace.setGlobalTracerProvider(provider)
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())

const upstream = await startSimulatorServer({ seedDemo: true })
const client = createClient({ baseUrl: upstream.url, credentials: upstream.simulator.credentials })

// Calls made inside a span are its children; each attempt sends its span's `traceparent` upstream.
const traceId = await trace.getTracer("my-service").startActiveSpan("open-account", async (span) => {
  await client.createAccount({
    participant_code: "CUST06",
    account_label: "traced",
    type: "individual",
    tier: "lite",
    prefunded: false
  })
  span.end()
  return span.spanContext().traceId
})

for (const span of exporter.getFinishedSpans()) {
  const status = span.attributes["http.response.status_code"] ?? "-"
  console.log(span.name, status, span.spanContext().traceId === traceId)
}

await upstream.close()
await provider.shutdown()
