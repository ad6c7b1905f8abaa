// The official TypeScript SDK as a client whose tools/call is held for approval (approvals.sh):
//
//   node sdk-approval.mjs MCPCTL SOCK SERVER TOOL JSON_ARGS TIMEOUT_MS PROGRESSFILE
//       call TOOL with a request timeout of TIMEOUT_MS that restarts on each
//       progress notification (resetTimeoutOnProgress); append each progress
//       message to PROGRESSFILE; print {"result": ..., "progress": N} once answered
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { appendFileSync } from "node:fs";

const [mcpctl, sock, server, tool, args, timeoutMs, progressFile] = process.argv.slice(2);
const deadline = setTimeout(() => fail("timed out after 120 s"), 120000);

function fail(msg) {
	console.error(`sdk-approval: ${msg}`);
	process.exit(1);
}

async function main() {
	const client = new Client({ name: "sdk-approval", version: "1.0.0" });
	await client.connect(new StdioClientTransport({ command: mcpctl, args: ["-s", sock, "connect", server],
							stderr: "inherit" }));
	let progress = 0;
	const result = await client.callTool({ name: tool, arguments: JSON.parse(args) }, undefined, {
		timeout: Number(timeoutMs),
		resetTimeoutOnProgress: true,
		onprogress: (p) => {
			progress++;
			appendFileSync(progressFile, `${p.progress} ${p.message}\n`);
		},
	});
	console.log(JSON.stringify({ result, progress }));
	await client.close();
}

main().then(() => { clearTimeout(deadline); process.exit(0); }, (e) => fail(e.stack || String(e)));
