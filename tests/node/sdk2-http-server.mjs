// A real MCP server over Streamable HTTP on 127.0.0.1, for mcpd's HTTP probes.
//
//   node sdk2-http-server.mjs MODE PORT
//
// MODE:
//   --dual             SDK v2 (@modelcontextprotocol/server 2.4.0) createMcpHandler: 2026-07-28
//                      and the stateless 2025 fallback
//   --modern-only      the same with legacy: 'reject' (an initialize gets -32022)
//   --legacy-stateful  SDK v1 (@modelcontextprotocol/sdk) StreamableHTTPServerTransport with
//                      sessions: the reference server, whose answer to an unknown session is
//                      400 "Bad Request: No valid session ID provided"
//   --future           by hand: every POST gets 400 and -32022 naming only "2099-01-01";
//                      GET and DELETE get 405
//
// Every HTTP request is written to stderr as one line
//   request: VERB PATH mcp-method=M protocol=V session=S rpc=METHOD
// so tests can see what reached the server. "listening PORT" on stdout once it listens.
import { createServer } from "node:http";
import { randomUUID } from "node:crypto";
import * as z from "zod";

const [mode, portArg] = process.argv.slice(2);
const port = Number(portArg);

function fail(msg) {
	console.error(`sdk2-http-server: ${msg}`);
	process.exit(2);
}

if (!["--dual", "--modern-only", "--legacy-stateful", "--future"].includes(mode) || !(port > 0))
	fail("usage: sdk2-http-server.mjs --dual|--modern-only|--legacy-stateful|--future PORT");

function readBody(req) {
	return new Promise((resolve, reject) => {
		const chunks = [];
		let size = 0;
		req.on("data", (c) => {
			size += c.length;
			if (size > 1 << 20)
				reject(new Error("body too large"));
			chunks.push(c);
		});
		req.on("end", () => resolve(Buffer.concat(chunks)));
		req.on("error", reject);
	});
}

function logRequest(req, body) {
	let rpc = "-";
	try {
		const msg = JSON.parse(body.toString("utf8"));
		rpc = Array.isArray(msg) ? "batch" : msg.method || "response";
	} catch {
		/* not JSON */
	}
	const h = (name) => req.headers[name] || "-";
	console.error(`request: ${req.method} ${req.url} mcp-method=${h("mcp-method")} protocol=${h("mcp-protocol-version")} session=${h("mcp-session-id")} rpc=${rpc}`);
}

// A web Response written to a node:http response, streamed (SSE answers stay open until done).
async function writeResponse(res, response) {
	const headers = {};
	response.headers.forEach((v, k) => { headers[k] = v; });
	res.writeHead(response.status, headers);
	if (!response.body) {
		res.end();
		return;
	}
	const reader = response.body.getReader();
	res.on("close", () => reader.cancel().catch(() => {}));
	for (;;) {
		const { done, value } = await reader.read();
		if (done)
			break;
		res.write(value);
	}
	res.end();
}

function toRequest(req, body) {
	const headers = new Headers();
	for (const [k, v] of Object.entries(req.headers))
		headers.set(k, Array.isArray(v) ? v.join(", ") : v);
	const init = { method: req.method, headers };
	if (req.method !== "GET" && req.method !== "HEAD")
		init.body = body;
	return new Request(`http://127.0.0.1:${port}${req.url}`, init);
}

async function modernHandler() {
	const { McpServer, createMcpHandler } = await import("@modelcontextprotocol/server");
	const factory = () => {
		const server = new McpServer({ name: "sdk2-http-server", version: "2.4.0" });
		server.registerTool("echo", {
			description: "Echo the text back",
			inputSchema: z.object({ text: z.string() }),
		}, async ({ text }) => ({ content: [{ type: "text", text }] }));
		server.registerTool("add", {
			description: "Add two numbers",
			inputSchema: z.object({ a: z.number(), b: z.number() }),
		}, async ({ a, b }) => ({ content: [{ type: "text", text: String(a + b) }] }));
		return server;
	};
	const handler = createMcpHandler(factory, { legacy: mode === "--modern-only" ? "reject" : "stateless" });
	return async (req, res, body) => writeResponse(res, await handler.fetch(toRequest(req, body)));
}

async function legacyStatefulHandler() {
	const { McpServer } = await import("@modelcontextprotocol/sdk/server/mcp.js");
	const { StreamableHTTPServerTransport } = await import("@modelcontextprotocol/sdk/server/streamableHttp.js");
	const { isInitializeRequest } = await import("@modelcontextprotocol/sdk/types.js");
	const transports = new Map();

	return async (req, res, body) => {
		const sid = req.headers["mcp-session-id"];
		let parsed;
		try {
			parsed = body.length ? JSON.parse(body.toString("utf8")) : undefined;
		} catch {
			parsed = undefined;
		}
		let transport = sid ? transports.get(sid) : undefined;
		if (!transport && !sid && req.method === "POST" && isInitializeRequest(parsed)) {
			transport = new StreamableHTTPServerTransport({
				sessionIdGenerator: () => randomUUID(),
				onsessioninitialized: (id) => transports.set(id, transport),
			});
			transport.onclose = () => transport.sessionId && transports.delete(transport.sessionId);
			const server = new McpServer({ name: "sdk1-http-server", version: "1.0.0" });
			server.registerTool("echo", {
				description: "Echo the text back",
				inputSchema: { text: z.string() },
			}, async ({ text }) => ({ content: [{ type: "text", text }] }));
			await server.connect(transport);
		}
		if (!transport) {
			// The reference server's answer (the SDK's example servers say exactly this).
			res.writeHead(400, { "Content-Type": "application/json" });
			res.end(JSON.stringify({ jsonrpc: "2.0", error: { code: -32000, message: "Bad Request: No valid session ID provided" }, id: null }));
			return;
		}
		await transport.handleRequest(req, res, parsed);
	};
}

function futureHandler() {
	return async (req, res, body) => {
		if (req.method !== "POST") {
			res.writeHead(405, { "Content-Type": "application/json", Allow: "POST" });
			res.end(JSON.stringify({ jsonrpc: "2.0", id: null, error: { code: -32601, message: "Method not allowed." } }));
			return;
		}
		let id = null, asked = null;
		try {
			const msg = JSON.parse(body.toString("utf8"));
			id = msg.id ?? null;
			asked = msg.params?._meta?.["io.modelcontextprotocol/protocolVersion"] ?? msg.params?.protocolVersion ?? null;
		} catch {
			/* answered the same */
		}
		res.writeHead(400, { "Content-Type": "application/json" });
		res.end(JSON.stringify({ jsonrpc: "2.0", id, error: { code: -32022, message: "Unsupported protocol version",
			data: { supported: ["2099-01-01"], requested: asked } } }));
	};
}

const handle = mode === "--legacy-stateful" ? await legacyStatefulHandler()
	: mode === "--future" ? futureHandler() : await modernHandler();

const http = createServer(async (req, res) => {
	try {
		const body = await readBody(req);
		logRequest(req, body);
		await handle(req, res, body);
	} catch (err) {
		console.error(`sdk2-http-server: ${err.stack || err}`);
		if (!res.headersSent)
			res.writeHead(500, { "Content-Type": "text/plain" });
		res.end();
	}
});
http.listen(port, "127.0.0.1", () => console.log(`listening ${port}`));
process.on("SIGTERM", () => process.exit(0));
