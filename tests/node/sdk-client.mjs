// The official TypeScript SDK as a real MCP client of mcpd, through `mcpctl connect`.
//
//   node sdk-client.mjs call MCPCTL SOCK SERVER TOOL JSON_ARGS
//       list the tools, call one; print {"tools": [...], "result": ...}
//   node sdk-client.mjs many MCPCTL SOCK SERVER CLIENTS CALLS
//       CLIENTS clients at once, each CALLS concurrent echo calls with its own
//       texts (ids overlap across clients): every answer must be the client's own
//   node sdk-client.mjs http URL TOKEN TOOL JSON_ARGS
//       the same as call, through mcpd's HTTP gateway (Streamable HTTP client transport)
//   node sdk-client.mjs restart MCPCTL SOCK SERVER READYFILE
//       start a slow call, create READYFILE, expect the call to fail with
//       "killed by signal" when the test kills the server, then call again until it works
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { writeFileSync } from "node:fs";

const [mode, mcpctl, sock, server, ...rest] = process.argv.slice(2);
const deadline = setTimeout(() => fail("timed out after 60 s"), 60000);

function fail(msg) {
	console.error(`sdk-client: ${msg}`);
	process.exit(1);
}

async function connect(name) {
	const client = new Client({ name, version: "1.0.0" });
	const transport = new StdioClientTransport({ command: mcpctl, args: ["-s", sock, "connect", server], stderr: "inherit" });
	await client.connect(transport);
	return client;
}

function text(result) {
	return (result.content || []).map((c) => c.text).join("");
}

async function call() {
	const [tool, args] = rest;
	const client = await connect("sdk-call");
	const tools = (await client.listTools()).tools.map((t) => t.name);
	const result = await client.callTool({ name: tool, arguments: JSON.parse(args) });
	console.log(JSON.stringify({ tools, result, server: client.getServerVersion() }));
	await client.close();
}

async function many() {
	const nclients = Number(rest[0]), ncalls = Number(rest[1]);
	const clients = await Promise.all(Array.from({ length: nclients }, (_, i) => connect(`sdk-many-${i}`)));
	const bad = [];
	await Promise.all(clients.map(async (client, i) => {
		const answers = await Promise.all(Array.from({ length: ncalls }, (_, j) =>
			client.callTool({ name: "echo", arguments: { text: `c${i}-r${j}` } }).then(text)));
		answers.forEach((got, j) => { if (got !== `c${i}-r${j}`) bad.push({ client: i, call: j, got }); });
	}));
	await Promise.all(clients.map((c) => c.close()));
	if (bad.length)
		fail(`${bad.length} wrong answers, e.g. ${JSON.stringify(bad.slice(0, 3))}`);
	console.log(JSON.stringify({ clients: nclients, calls: ncalls, ok: true }));
}

async function restart() {
	const [readyFile] = rest;
	const client = await connect("sdk-restart");
	const slow = client.callTool({ name: "sleep", arguments: { ms: 5000 } }, undefined, { timeout: 20000 });
	writeFileSync(readyFile, "in flight\n");
	let error = null;
	try {
		await slow;
	} catch (e) {
		error = String(e.message || e);
	}
	if (!error || !error.includes("killed by signal"))
		fail(`the call in flight should fail with "killed by signal", got ${error ?? "a result"}`);
	// The same client, never reconnected: retry (bounded) until the new process answers.
	for (let i = 0; i < 100; i++) {
		try {
			const r = await client.callTool({ name: "add", arguments: { a: 2, b: 3 } });
			console.log(JSON.stringify({ inflight_error: error, after_restart: text(r) }));
			await client.close();
			return;
		} catch (e) {
			await new Promise((r) => setTimeout(r, 100));
		}
	}
	fail("the server did not answer again after its restart");
}

async function http() {
	// Here mcpctl is the URL and sock the token ("-" for none).
	const [tool, args] = [server, rest[0]];
	const headers = sock === "-" ? {} : { Authorization: `Bearer ${sock}` };
	const client = new Client({ name: "sdk-http", version: "1.0.0" });
	await client.connect(new StreamableHTTPClientTransport(new URL(mcpctl), { requestInit: { headers } }));
	const tools = (await client.listTools()).tools.map((t) => t.name);
	const result = await client.callTool({ name: tool, arguments: JSON.parse(args) });
	console.log(JSON.stringify({ tools, result, server: client.getServerVersion() }));
	await client.close();
}

const modes = { call, many, restart, http };
if (!modes[mode])
	fail(`unknown mode ${mode}`);
modes[mode]().then(() => { clearTimeout(deadline); process.exit(0); }, (e) => fail(e.stack || String(e)));
