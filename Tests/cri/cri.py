#!/usr/bin/python3
"""A CRI client for skiff's tests: what the kubelet calls, over containerd's
CRI socket, from Debian's python3-grpcio and the messages protoc makes of
runtime_v1.proto. It serves one request per line of standard input and
answers with one JSON line, so that a test pays Python's start-up once.

  cri.py SOCKET PB2_DIR

Requests:
  {"call": "runtime.v1.RuntimeService/RunPodSandbox", "request": {...}}
      -> {"response": {...}} or {"error": {"code": "...", "details": "..."}}
  {"stream": URL, "stdin": "text", "seconds": N}
      -> {"stdout": "...", "stderr": "...", "status": {...}}
     The streaming server's websocket protocol (v4.channel.k8s.io): channel
     0 stdin, 1 stdout, 2 stderr, 3 the final status. Reads until the server
     closes or N seconds pass.
"""
import base64
import importlib
import json
import os
import socket
import struct
import sys
import time
import urllib.parse

import grpc
from google.protobuf import json_format

class Client:
    """CRI calls over containerd's socket, with the messages protoc made
    of runtime_v1.proto in pb2_dir (scripts/bench-cri uses this too)."""

    def __init__(self, sock_path, pb2_dir):
        sys.path.insert(0, pb2_dir)
        self.pb2 = importlib.import_module("runtime_v1_pb2")
        self.channel = grpc.insecure_channel("unix://" + sock_path)

    def call(self, method, request):
        service, rpc = method.rsplit("/", 1)
        descriptor = self.pb2.DESCRIPTOR.services_by_name[service.split(".")[-1]].methods_by_name[rpc]
        req = json_format.ParseDict(request, getattr(self.pb2, descriptor.input_type.name)())
        stub = self.channel.unary_unary("/" + method, request_serializer=lambda m: m.SerializeToString(),
                                        response_deserializer=getattr(self.pb2, descriptor.output_type.name).FromString)
        try:
            resp = stub(req, timeout=120)
        except grpc.RpcError as e:
            return {"error": {"code": e.code().name, "details": e.details()}}
        return {"response": json_format.MessageToDict(resp, preserving_proto_field_name=True,
                                                      including_default_value_fields=True)}


def frame(opcode, payload):
    """A client frame: final, masked (RFC 6455)."""
    head = bytes([0x80 | opcode])
    n = len(payload)
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 1 << 16:
        head += bytes([0x80 | 126]) + struct.pack(">H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack(">Q", n)
    mask = os.urandom(4)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def read_exact(s, n):
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data


def stream(url, stdin, seconds):
    u = urllib.parse.urlparse(url)
    s = socket.create_connection((u.hostname, u.port or 80), timeout=seconds)
    key = base64.b64encode(os.urandom(16)).decode()
    path = u.path + ("?" + u.query if u.query else "")
    s.sendall((f"GET {path} HTTP/1.1\r\nHost: {u.netloc}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
               f"Sec-WebSocket-Protocol: v4.channel.k8s.io\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(1)
        if not chunk:
            return {"error": "the streaming server closed during the handshake: " + head.decode(errors="replace")}
        head += chunk
    if b" 101 " not in head.split(b"\r\n", 1)[0]:
        return {"error": head.decode(errors="replace")}
    if stdin:
        s.sendall(frame(2, b"\x00" + stdin.encode()))
    out = {1: b"", 2: b"", 3: b""}
    deadline = time.time() + seconds
    try:
        while time.time() < deadline:
            s.settimeout(max(0.05, deadline - time.time()))
            b0, b1 = read_exact(s, 2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", read_exact(s, 2))[0]
            elif n == 127:
                n = struct.unpack(">Q", read_exact(s, 8))[0]
            payload = read_exact(s, n)
            opcode = b0 & 0x0F
            if opcode == 8:
                break
            if opcode in (1, 2) and payload:
                ch = payload[0]
                if ch in out:
                    out[ch] += payload[1:]
    except (EOFError, socket.timeout, ConnectionResetError):
        pass
    try:
        s.sendall(frame(8, b""))
    except OSError:
        pass
    s.close()
    status = {}
    if out[3]:
        try:
            status = json.loads(out[3])
        except ValueError:
            status = {"raw": out[3].decode(errors="replace")}
    return {"stdout": out[1].decode(errors="replace"), "stderr": out[2].decode(errors="replace"), "status": status}


def serve(client):
    for line in sys.stdin:
        if not line.strip():
            continue
        req = json.loads(line)
        try:
            if "call" in req:
                answer = client.call(req["call"], req.get("request", {}))
            else:
                answer = stream(req["stream"], req.get("stdin", ""), float(req.get("seconds", 10)))
        except Exception as e:  # a broken request is the test's bug: say so, keep serving
            answer = {"error": {"code": "CLIENT", "details": repr(e)}}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    serve(Client(sys.argv[1], sys.argv[2]))
