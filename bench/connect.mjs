// Benchmark: what `mcpctl connect` adds to MCP requests, against talking to
// the same example server's stdio directly.
//
//   node bench/connect.mjs MCPCTL SOCK SERVER EXAMPLE [N]
//
// Prints p50/p99 latency of N sequential tools/call echo requests and the
// throughput of N requests pipelined (all sent, then all awaited), for both.
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";

const [mcpctl, sock, server, example, nArg] = process.argv.slice(2);
const N = Number(nArg || 20000);

function channel(cmd, args) {
	const child = spawn(cmd, args, { stdio: ["pipe", "pipe", "inherit"] });
	const waiting = new Map();
	createInterface({ input: child.stdout }).on("line", (line) => {
		const msg = JSON.parse(line);
		const done = waiting.get(msg.id);
		if (done) {
			waiting.delete(msg.id);
			done(msg);
		}
	});
	let id = 0;
	const request = (method, params) => new Promise((resolve) => {
		const my = ++id;
		waiting.set(my, resolve);
		child.stdin.write(JSON.stringify({ jsonrpc: "2.0", id: my, method, params }) + "\n");
	});
	return { child, request };
}

async function measure(label, ch) {
	await ch.request("initialize", { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "bench", version: "1" } });
	ch.child.stdin.write(JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }) + "\n");
	const call = () => ch.request("tools/call", { name: "echo", arguments: { text: "x" } });
	for (let i = 0; i < 500; i++) await call();	// warm up
	const lat = [];
	for (let i = 0; i < N; i++) {
		const t0 = process.hrtime.bigint();
		await call();
		lat.push(Number(process.hrtime.bigint() - t0) / 1000);
	}
	lat.sort((a, b) => a - b);
	const t0 = process.hrtime.bigint();
	await Promise.all(Array.from({ length: N }, call));
	const secs = Number(process.hrtime.bigint() - t0) / 1e9;
	const r = { p50_us: lat[Math.floor(N * 0.5)], p99_us: lat[Math.floor(N * 0.99)], rps: Math.round(N / secs) };
	console.log(`${label.padEnd(16)} sequential p50 ${r.p50_us.toFixed(1)} us, p99 ${r.p99_us.toFixed(1)} us; pipelined ${r.rps} requests/s`);
	ch.child.stdin.end();
	return r;
}

const direct = await measure("direct stdio", channel(example, []));
const relayed = await measure("mcpctl connect", channel(mcpctl, ["-s", sock, "connect", server]));
console.log(`added by mcpctl connect + mcpd: p50 ${(relayed.p50_us - direct.p50_us).toFixed(1)} us, p99 ${(relayed.p99_us - direct.p99_us).toFixed(1)} us`);
process.exit(0);
