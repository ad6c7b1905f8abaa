// The TypeScript SDK v2 client (@modelcontextprotocol/client 2.4) as a real MCP
// client of mcpd, in either protocol era.
//
//   node sdk2-client.mjs MODE connect MCPCTL SOCK SERVER [OPTIONS]
//   node sdk2-client.mjs MODE http URL TOKEN [OPTIONS]
//
// MODE: legacy (initialize only), auto (server/discover first, falls back to
// initialize), pin (2026-07-28 only). TRANSPORT: `connect` runs
// `MCPCTL -s SOCK connect SERVER` as a stdio server; `http` speaks Streamable
// HTTP to URL with a bearer TOKEN ("-" for none).
// It lists the tools, calls one, and prints one JSON line:
//   {"era": "legacy"|"modern", "protocolVersion": ..., "tools": [names], "result": text,
//    "isError": bool, "server": serverInfo}
// OPTIONS:
//   --tool NAME --args JSON   the tool to call (default: echo {"text": "hello"})
//   --no-call                 only list the tools ("result" is null)
//   --caps LIST               declare client capabilities (comma-separated: sampling,
//                             elicitation, roots) and answer them with fixed answers:
//                             sampling "sampled by CLIENTNAME", elicitation accept
//                             {"answer": "elicited by CLIENTNAME"}, roots [file:///CLIENTNAME]
//   --name NAME               the clientInfo name (default sdk2-client)
//   --timeout MS              request timeout (default 30000)
// A failure prints `sdk2-client: ...` on stderr and exits 1.
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { StdioClientTransport } from "@modelcontextprotocol/client/stdio";

const deadline = setTimeout(() => fail("timed out after 90 s"), 90000);

function fail(msg) {
	console.error(`sdk2-client: ${msg}`);
	process.exit(1);
}

function parse(argv) {
	const [mode, transport, ...rest] = argv;
	const nargs = { connect: 3, http: 2 }[transport];
	if (!["legacy", "auto", "pin"].includes(mode) || nargs === undefined || rest.length < nargs)
		fail("usage: sdk2-client.mjs legacy|auto|pin connect MCPCTL SOCK SERVER | http URL TOKEN [OPTIONS]");
	const opts = { mode, transport, targs: rest.slice(0, nargs), tool: "echo", args: { text: "hello" },
		call: true, caps: [], name: "sdk2-client", timeout: 30000 };
	for (let i = nargs; i < rest.length; i++) {
		const flag = rest[i], value = rest[i + 1];
		switch (flag) {
		case "--tool": opts.tool = value; i++; break;
		case "--args": opts.args = JSON.parse(value); i++; break;
		case "--no-call": opts.call = false; break;
		case "--caps": opts.caps = value.split(",").filter(Boolean); i++; break;
		case "--name": opts.name = value; i++; break;
		case "--timeout": opts.timeout = Number(value); i++; break;
		default: fail(`unknown option ${flag}`);
		}
	}
	return opts;
}

function negotiation(mode) {
	return { mode: mode === "pin" ? { pin: "2026-07-28" } : mode };
}

function transportFor(opts) {
	if (opts.transport === "connect") {
		const [mcpctl, sock, server] = opts.targs;
		return new StdioClientTransport({ command: mcpctl, args: ["-s", sock, "connect", server], stderr: "inherit" });
	}
	const [url, token] = opts.targs;
	const headers = token === "-" ? {} : { Authorization: `Bearer ${token}` };
	return new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } });
}

function withCapabilities(client, opts) {
	const name = opts.name;
	if (opts.caps.includes("sampling"))
		client.setRequestHandler("sampling/createMessage", async () => ({
			model: "sdk2-client", role: "assistant", content: { type: "text", text: `sampled by ${name}` },
		}));
	if (opts.caps.includes("elicitation"))
		client.setRequestHandler("elicitation/create", async () => ({
			action: "accept", content: { answer: `elicited by ${name}` },
		}));
	if (opts.caps.includes("roots"))
		client.setRequestHandler("roots/list", async () => ({ roots: [{ uri: `file:///${name}`, name }] }));
}

function capabilities(caps) {
	const out = {};
	if (caps.includes("sampling"))
		out.sampling = {};
	if (caps.includes("elicitation"))
		out.elicitation = { form: {} };
	if (caps.includes("roots"))
		out.roots = { listChanged: false };
	return out;
}

function text(result) {
	return (result.content || []).map((c) => c.text ?? "").join("");
}

async function main() {
	const opts = parse(process.argv.slice(2));
	const client = new Client({ name: opts.name, version: "2.0.0" },
		{ capabilities: capabilities(opts.caps), versionNegotiation: negotiation(opts.mode) });
	withCapabilities(client, opts);
	await client.connect(transportFor(opts), { timeout: opts.timeout });
	const tools = (await client.listTools(undefined, { timeout: opts.timeout })).tools.map((t) => t.name);
	let result = null, isError = false;
	if (opts.call) {
		const r = await client.callTool({ name: opts.tool, arguments: opts.args }, { timeout: opts.timeout });
		result = text(r);
		isError = Boolean(r.isError);
	}
	console.log(JSON.stringify({
		era: client.getProtocolEra(),
		protocolVersion: client.getNegotiatedProtocolVersion(),
		tools, result, isError,
		server: client.getServerVersion() ?? null,
	}));
	await client.close();
}

main().then(() => { clearTimeout(deadline); process.exit(0); }, (e) => fail(e.stack || String(e)));
