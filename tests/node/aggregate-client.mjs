// An SDK client of mcpd's aggregate endpoint (tests/integration/aggregate.sh).
//
//   node aggregate-client.mjs SDK MODE connect MCPCTL SOCK [CONNECT_ARGS...] [-- OPTIONS]
//   node aggregate-client.mjs SDK MODE http URL TOKEN [-- OPTIONS]
//
// SDK: v1 (@modelcontextprotocol/sdk) or v2 (@modelcontextprotocol/client);
// MODE: legacy, or pin (2026-07-28, v2 only). It lists the tools, calls
// alpha__whoami and beta__whoami, and prints one JSON line:
//   {"era", "server", "tools": [names], "alpha": text, "beta": text, ...}
// OPTIONS:
//   --extras          also prompts/list, prompts/get of the first prompt
//                     ("prompts", "prompt"), resources/list, resources/read of
//                     the first resource ("resources", "nresources", "read_uri")
//   --unknown         also calls nope__whoami ("unknown_error")
//   --lifecycle DIR   then writes DIR/listed and waits for a tools list_changed
//                     after which beta's tools are gone ("down_tools",
//                     "down_beta_error", "down_alpha"), writes DIR/down, and
//                     waits for one after which they are back ("up_tools", "up_beta")
// A failure prints `aggregate-client: ...` on stderr and exits 1.
import { writeFileSync } from "node:fs";

const deadline = setTimeout(() => fail("timed out after 150 s"), 150000);

function fail(msg) {
	console.error(`aggregate-client: ${msg}`);
	process.exit(1);
}

function parse(argv) {
	const [sdk, mode, transport, ...rest] = argv;
	const dash = rest.indexOf("--");
	const targs = dash < 0 ? rest : rest.slice(0, dash);
	const flags = dash < 0 ? [] : rest.slice(dash + 1);
	if (!["v1", "v2"].includes(sdk) || !["legacy", "pin"].includes(mode) || !["connect", "http"].includes(transport) ||
	    targs.length < 2 || (sdk === "v1" && mode !== "legacy"))
		fail("usage: aggregate-client.mjs v1|v2 legacy|pin connect MCPCTL SOCK [ARGS...] | http URL TOKEN [-- OPTIONS]");
	const opts = { sdk, mode, transport, targs, extras: false, unknown: false, dir: null };
	for (let i = 0; i < flags.length; i++) {
		switch (flags[i]) {
		case "--extras": opts.extras = true; break;
		case "--unknown": opts.unknown = true; break;
		case "--lifecycle": opts.dir = flags[++i]; break;
		default: fail(`unknown option ${flags[i]}`);
		}
	}
	return opts;
}

function text(result) {
	return (result.content || []).map((c) => c.text ?? "").join("");
}

// Every list_changed of tools wakes the waiters, which list again.
const waiters = [];
function toolsChanged() {
	for (const w of waiters.splice(0))
		w();
}

// `mcpctl -s SOCK connect ARGS...` as a stdio server, or Streamable HTTP with a bearer token, of either SDK.
function transportFor(opts, Stdio, Http) {
	if (opts.transport === "connect") {
		const [mcpctl, sock, ...args] = opts.targs;
		return new Stdio({ command: mcpctl, args: ["-s", sock, "connect", ...args], stderr: "inherit" });
	}
	const [url, token] = opts.targs;
	return new Http(new URL(url), { requestInit: { headers: token === "-" ? {} : { Authorization: `Bearer ${token}` } } });
}

async function makeClient(opts) {
	if (opts.sdk === "v1") {
		const { Client } = await import("@modelcontextprotocol/sdk/client/index.js");
		const { StdioClientTransport } = await import("@modelcontextprotocol/sdk/client/stdio.js");
		const { StreamableHTTPClientTransport } = await import("@modelcontextprotocol/sdk/client/streamableHttp.js");
		const { ToolListChangedNotificationSchema } = await import("@modelcontextprotocol/sdk/types.js");
		const client = new Client({ name: "aggregate-v1", version: "1.0.0" });
		client.setNotificationHandler(ToolListChangedNotificationSchema, async () => toolsChanged());
		await client.connect(transportFor(opts, StdioClientTransport, StreamableHTTPClientTransport));
		return { client, era: "legacy" };
	}
	const { Client, StreamableHTTPClientTransport } = await import("@modelcontextprotocol/client");
	const { StdioClientTransport } = await import("@modelcontextprotocol/client/stdio");
	const client = new Client({ name: "aggregate-v2", version: "2.0.0" }, {
		versionNegotiation: { mode: opts.mode === "pin" ? { pin: "2026-07-28" } : "legacy" },
		listChanged: { tools: { onChanged: () => toolsChanged() } },
	});
	await client.connect(transportFor(opts, StdioClientTransport, StreamableHTTPClientTransport));
	return { client, era: client.getProtocolEra() };
}

async function names(client) {
	return (await client.listTools()).tools.map((t) => t.name);
}

async function callText(client, name) {
	try {
		const r = await client.callTool({ name, arguments: {} });
		return r.isError ? `isError: ${text(r)}` : text(r);
	} catch (e) {
		return `error: ${e.message}`;
	}
}

// Wait for list_changed notifications until the tool list satisfies pred (at most 90 s).
async function changedUntil(client, pred) {
	const end = Date.now() + 90000;
	for (;;) {
		const woken = new Promise((resolve) => waiters.push(resolve));
		const timer = new Promise((resolve) => setTimeout(resolve, Math.max(0, end - Date.now())));
		if (await Promise.race([woken.then(() => true), timer.then(() => false)]) === false)
			fail("no tools list_changed brought the expected list within 90 s");
		const tools = await names(client);
		if (pred(tools))
			return tools;
	}
}

async function main() {
	const opts = parse(process.argv.slice(2));
	const { client, era } = await makeClient(opts);
	const out = { era, server: client.getServerVersion() ?? null };
	out.tools = await names(client);
	out.alpha = await callText(client, "alpha__whoami");
	out.beta = await callText(client, "beta__whoami");
	if (opts.unknown)
		out.unknown_error = await callText(client, "nope__whoami");
	if (opts.extras) {
		out.prompts = (await client.listPrompts()).prompts.map((p) => p.name);
		const simple = out.prompts.find((n) => n.endsWith("__simple-prompt") || n.endsWith("__simple_prompt")) ?? out.prompts[0];
		if (simple) {
			const got = await client.getPrompt({ name: simple });
			out.prompt = got.messages.map((m) => m.content?.text ?? "").join("");
		}
		const resources = (await client.listResources()).resources;
		out.resources = resources.map((r) => r.uri).slice(0, 3);
		out.nresources = resources.length;
		if (resources.length) {
			const read = await client.readResource({ uri: resources[0].uri });
			out.read_uri = read.contents.map((c) => c.uri);
		}
	}
	if (opts.dir) {
		const gone = changedUntil(client, (t) => !t.some((n) => n.startsWith("beta__")));
		writeFileSync(`${opts.dir}/listed`, "");
		out.down_tools = await gone;
		out.down_beta_error = await callText(client, "beta__whoami");
		out.down_alpha = await callText(client, "alpha__whoami");
		const back = changedUntil(client, (t) => t.includes("beta__whoami"));
		writeFileSync(`${opts.dir}/down`, "");
		out.up_tools = await back;
		out.up_beta = await callText(client, "beta__whoami");
	}
	console.log(JSON.stringify(out));
	await client.close();
}

main().then(() => { clearTimeout(deadline); process.exit(0); }, (e) => fail(e.stack || String(e)));
