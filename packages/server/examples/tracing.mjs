// Registers the OpenTelemetry SDK before the proxy starts, so its spans are recorded and exported:
//   node --import ./examples/tracing.mjs dist/main.js
// (the packages: @opentelemetry/api, @opentelemetry/sdk-trace-base, @opentelemetry/context-async-hooks,
// @opentelemetry/core). Swap ConsoleSpanExporter for your backend's exporter (OTLP, …).
import { context, propagation, trace } from "@opentelemetry/api"
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks"
import { W3CTraceContextPropagator } from "@opentelemetry/core"
import { BasicTracerProvider, ConsoleSpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"

// The active span follows the request through awaits (the store steps' and upstream calls' parent).
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())
// traceparent / tracestate in and out.
propagation.setGlobalPropagator(new W3CTraceContextPropagator())
trace.setGlobalTracerProvider(
  new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(new ConsoleSpanExporter())] })
)
