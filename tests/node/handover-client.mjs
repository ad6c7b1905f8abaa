// An MCP SDK client (v1 or v2) whose StdioClientTransport runs
// `mcpctl -s SOCK connect [SERVER]`: node gives its child socketpairs for
// stdin and stdout, which mcpctl hands over to mcpd. It lists the tools, calls
// TOOL (echo, or ex__echo through the aggregate) with a text of BYTES bytes,
// and prints one JSON line:
//   {"tools": [names], "echoed": length of the answer's text, "same": bool,
//    "fd0": mcpctl's /proc/PID/fd/0 link after the call, "fd1": its fd/1}
//
//   node handover-client.mjs v1|v2 MCPCTL SOCK TOOL BYTES [SERVER]
// A failure prints `handover-client: ...` on stderr and exits 1.
import { readlinkSync } from "node:fs";

const [sdk, mcpctl, sock, tool, bytes, server] = process.argv.slice(2);
const deadline = setTimeout(() => fail("timed out after 90 s"), 90000);

function fail(msg) {
	console.error(`handover-client: ${msg}`);
	process.exit(1);
}

async function load() {
	if (sdk === "v1") {
		const { Client } = await import("@modelcontextprotocol/sdk/client/index.js");
		const { StdioClientTransport } = await import("@modelcontextprotocol/sdk/client/stdio.js");
		return { Client, StdioClientTransport };
	}
	const { Client } = await import("@modelcontextprotocol/client");
	const { StdioClientTransport } = await import("@modelcontextprotocol/client/stdio");
	return { Client, StdioClientTransport };
}

try {
	const { Client, StdioClientTransport } = await load();
	const args = ["-s", sock, "connect"];
	if (server)
		args.push(server);
	const transport = new StdioClientTransport({ command: mcpctl, args, stderr: "inherit" });
	const client = new Client({ name: `handover-${sdk}`, version: "1.0.0" });
	await client.connect(transport, { timeout: 60000 });
	const tools = (await client.listTools(undefined, { timeout: 60000 })).tools.map((t) => t.name);
	const text = "x".repeat(Number(bytes));
	const call = { name: tool, arguments: { text } };
	const r = sdk === "v1" ? await client.callTool(call, undefined, { timeout: 60000 }) :
		await client.callTool(call, { timeout: 60000 });
	const got = r.content?.[0]?.text ?? "";
	const link = (fd) => { try { return readlinkSync(`/proc/${transport.pid}/fd/${fd}`); } catch (e) { return `? ${e.code}`; } };
	const out = { tools, echoed: got.length, same: got === text, fd0: link(0), fd1: link(1) };
	await client.close();
	clearTimeout(deadline);
	console.log(JSON.stringify(out));
} catch (e) {
	fail(e?.stack ?? String(e));
}
