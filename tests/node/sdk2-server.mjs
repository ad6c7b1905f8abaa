// An MCP server on the TypeScript SDK v2 (@modelcontextprotocol/server 2.4.0)
// over stdio, with the tools echo and add, for mcpd's era tests.
//
//   node sdk2-server.mjs [--modern-only] [--name NAME]
//
// Default: dual-era (serveStdio answers server/discover and initialize).
// --modern-only: serveStdio's legacy: 'reject' (initialize gets -32022 naming
// 2026-07-28). Every message received is logged on stderr as "request: JSON".
import { McpServer, fromJsonSchema } from '@modelcontextprotocol/server';
import { StdioServerTransport, serveStdio } from '@modelcontextprotocol/server/stdio';

const args = process.argv.slice(2);
const modernOnly = args.includes('--modern-only');
const nameAt = args.indexOf('--name');
const name = nameAt >= 0 ? args[nameAt + 1] : 'sdk2-server';

function factory() {
	const server = new McpServer({ name, version: '2.4.0' }, { capabilities: { tools: {} } });
	server.registerTool('echo', {
		description: 'Returns the given text',
		inputSchema: fromJsonSchema({ type: 'object', properties: { text: { type: 'string' } }, required: ['text'] }),
	}, async ({ text }) => ({ content: [{ type: 'text', text }] }));
	server.registerTool('add', {
		description: 'Adds two numbers',
		inputSchema: fromJsonSchema({
			type: 'object',
			properties: { a: { type: 'number' }, b: { type: 'number' } },
			required: ['a', 'b'],
		}),
	}, async ({ a, b }) => ({ content: [{ type: 'text', text: String(a + b) }] }));
	return server;
}

// The default transport, with each incoming message logged as the example server does.
const transport = new StdioServerTransport();
transport._ondata = ((orig) => function (chunk) {
	for (const line of chunk.toString('utf8').split('\n'))
		if (line.trim())
			process.stderr.write(`request: ${line.slice(0, 1000)}\n`);
	return orig.call(this, chunk);
})(transport._ondata);

serveStdio(factory, {
	transport,
	legacy: modernOnly ? 'reject' : 'serve',
	onerror: (e) => process.stderr.write(`sdk2-server: ${e.message}\n`),
});
