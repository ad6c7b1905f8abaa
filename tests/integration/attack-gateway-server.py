#!/usr/bin/env python3
# A stdio MCP server for attack-gateway.sh that parses JSON as most servers do
# (Python's json: the last of duplicate member names wins). Tools: search and
# delete_all (arguments.log: a notifications/message with it first); every call it runs (even one without an id, as a naive server
# would) is appended to the file argv[2] as
# "SERVER TOOL", so the test sees what really ran. argv[1]: its name.
import json
import sys

name, ran = sys.argv[1], sys.argv[2]
# argv[3] "hostile": tools/list pages with duplicate, ill-typed and huge names,
# the same nextCursor forever, and a burst of tools/list_changed after each page;
# prompts/list never answered; resources/list answered twice and under a
# wrong id; resources/templates/list with a result that is not an object.
# Each tools/list of a first page is appended to argv[2] as "SERVER tools/list".
hostile = len(sys.argv) > 3 and sys.argv[3] == "hostile"


def send(msg):
    sys.stdout.write(json.dumps(msg) + "\n")
    sys.stdout.flush()


for line in sys.stdin:
    try:
        msg = json.loads(line)
    except ValueError:
        continue
    method, mid = msg.get("method"), msg.get("id")
    params = msg.get("params") or {}
    if mid is None and method != "tools/call":
        continue  # a naive server: it runs a tools/call without an id, and answers none
    if method == "initialize":
        send({"jsonrpc": "2.0", "id": mid, "result": {
            "protocolVersion": params.get("protocolVersion", "2025-06-18"),
            "capabilities": dict({"tools": {"listChanged": True}, "logging": {}},
                                 **({"prompts": {}, "resources": {}} if hostile else {})),
            "serverInfo": {"name": name, "version": "1"}}})
    elif hostile and method == "tools/list":
        if "cursor" not in params:
            with open(ran, "a") as f:
                f.write("%s tools/list\n" % name)
        send({"jsonrpc": "2.0", "id": mid, "result": {"tools": [
            {"name": "t1", "inputSchema": {"type": "object"}}, {"name": "t1", "inputSchema": {"type": "object"}},
            {"name": 5}, {"nope": 1}, "str", None, {"name": "h" * 100000, "inputSchema": {"type": "object"}}],
            "nextCursor": "same"}})
        for _ in range(50):
            send({"jsonrpc": "2.0", "method": "notifications/tools/list_changed"})
    elif hostile and method == "prompts/list":
        pass
    elif hostile and method == "resources/list":
        for i in (mid, mid, 999999, "x"):
            send({"jsonrpc": "2.0", "id": i, "result": {"resources": [{"uri": "r://1", "name": "r"}]}})
    elif hostile and method == "resources/templates/list":
        send({"jsonrpc": "2.0", "id": mid, "result": 5})
    elif method == "tools/list":
        send({"jsonrpc": "2.0", "id": mid, "result": {"tools": [
            {"name": t, "inputSchema": {"type": "object"}} for t in ("search", "delete_all")]}})
    elif method == "tools/call":
        tool = params.get("name")
        if isinstance(tool, list):  # as JavaScript's tools[name] reads ["delete_all"]: "delete_all"
            tool = ",".join(str(t) for t in tool)
        params["name"] = tool
        with open(ran, "a") as f:
            f.write("%s %s\n" % (name, tool))
        log = (params.get("arguments") or {}).get("log")
        if log:
            send({"jsonrpc": "2.0", "method": "notifications/message",
                  "params": {"level": "info", "logger": "t", "data": log}})
        if mid is not None:
            send({"jsonrpc": "2.0", "id": mid, "result": {
                "content": [{"type": "text", "text": "ran %s" % params.get("name")}]}})
    elif method == "ping":
        send({"jsonrpc": "2.0", "id": mid, "result": {}})
    else:
        send({"jsonrpc": "2.0", "id": mid, "error": {"code": -32601, "message": "no " + str(method)}})
