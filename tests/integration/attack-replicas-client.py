#!/usr/bin/env python3
"""attack-replicas-client.py MCPCTL SOCK NAME MODE OUT

A hostile mcpctl connect client for attack-replicas.sh. It initializes,
then, by MODE:
  ids      requests whose ids are of every JSON type, written one byte
           at a time; OUT gets one line per answer: "sent-id<TAB>answer-id"
  seq:N    N echo calls, each sent once the one before was answered;
           OUT as for burst
  burst:N  N pipelined echo calls (ids 1..N) in one write; OUT gets the
           answers' ids, one per line, then "done"
It reads until every request was answered once (or 120 s went by) and
writes what it saw; it never decides the test itself."""
import json, os, subprocess, sys, time, select

mcpctl, sock, name, mode, out = sys.argv[1:6]
p = subprocess.Popen([mcpctl, "-s", sock, "connect", name], stdin=subprocess.PIPE,
                     stdout=subprocess.PIPE, bufsize=0)
buf = b""
answers = []

def write(data, onebyte=False):
    if onebyte:
        for i in range(len(data)):
            p.stdin.write(data[i:i + 1])
    else:
        p.stdin.write(data)

def read_until(pred, seconds=120):
    global buf
    end = time.time() + seconds
    while not pred() and time.time() < end:
        r, _, _ = select.select([p.stdout], [], [], 1)
        if not r:
            continue
        chunk = os.read(p.stdout.fileno(), 65536)
        if not chunk:
            break
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            try:
                m = json.loads(line)
            except ValueError:
                answers.append(("invalid", line.decode("utf-8", "replace")))
                continue
            if isinstance(m, dict) and "id" in m and "method" not in m:
                answers.append(("answer", m))

init = {"jsonrpc": "2.0", "id": 0, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "a", "version": "1"}}}
write((json.dumps(init) + "\n").encode())
read_until(lambda: any(k == "answer" and m.get("id") == 0 for k, m in answers), 60)
write(b'{"jsonrpc":"2.0","method":"notifications/initialized"}\n')
answers.clear()

with open(out, "w") as f:
    if mode == "ids":
        ids = ['"a\\"b\\\\c\\u00e9\\n"', '""', "12345678901234567890123", "-0", "1.5e300", "-7", "3.25",
               '"\\u0000x"', '"' + "z" * 300 + '"', "1"]
        for i in ids:
            line = '{"jsonrpc":"2.0","id":%s,"method":"ping"}\n' % i
            write(line.encode(), onebyte=True)
            # a notification between requests
            write(b'{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":"x","progress":1}}\n',
                  onebyte=True)
        read_until(lambda: len(answers) >= len(ids), 60)
        got = [json.dumps(m.get("id"), separators=(",", ":")) if k == "answer" else "INVALID " + m for k, m in answers]
        for i in ids:
            f.write("%s\t%s\n" % (json.dumps(json.loads(i), separators=(",", ":")),
                                  "present" if json.dumps(json.loads(i), separators=(",", ":")) in got else "missing"))
        f.write("answers\t%d\n" % len(answers))
    elif mode.startswith("seq:"):
        n = int(mode.split(":")[1])
        f.write("sent\n")
        f.flush()
        for i in range(1, n + 1):
            write(('{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"echo","arguments":{"text":"x%d"}}}\n'
                   % (i, i)).encode())
            read_until(lambda: len(answers) >= i, 60)
            if len(answers) < i:
                break
        for k, m in answers:
            if k == "answer":
                f.write("%s %s\n" % (m.get("id"), "error" if "error" in m else "result"))
            else:
                f.write("invalid\n")
        f.write("done\n")
    elif mode.startswith("burst:"):
        n = int(mode.split(":")[1])
        data = "".join('{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"echo","arguments":{"text":"x%d"}}}\n'
                       % (i, i) for i in range(1, n + 1)).encode()
        f.write("sent\n")
        f.flush()
        write(data)
        read_until(lambda: len(answers) >= n, 120)
        for k, m in answers:
            if k == "answer":
                f.write("%s %s\n" % (m.get("id"), "error" if "error" in m else "result"))
            else:
                f.write("invalid\n")
        f.write("done\n")
p.kill()
p.wait()
