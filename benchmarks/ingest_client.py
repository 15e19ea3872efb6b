"""Benchmark client: stream N BatchIssueLicenses requests over S parallel streams and time until every answer is in.

python -m benchmarks.ingest_client ADDRESS N STREAMS [TOKEN]   → prints {"n":…, "seconds":…, "errors":…}
"""

from __future__ import annotations

import argparse
import json
import threading
import time
import uuid

from adapters.client import MemberCredentials, connect
from benchmarks.payloads import MARKET, batch_requests
from protos.zzgw.v1 import issuance_pb2_grpc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("address", help="the server's host:port")
    parser.add_argument("n", type=int, help="licenses to issue")
    parser.add_argument("streams", type=int, help="BatchIssueLicenses streams, in parallel")
    parser.add_argument("token", nargs="?", default="", help="the issuer's bearer token (none for the bare server)")
    args = parser.parse_args()
    address, n, streams, token = args.address, args.n, args.streams, args.token
    run = uuid.uuid4().hex[:8]
    requests = batch_requests(n, run)
    parts = [requests[i::streams] for i in range(streams)]
    errors = [0]
    answered = [0]
    lock = threading.Lock()

    def one(part: list) -> None:
        # a subchannel of its own per stream: otherwise both streams share one connection, so one worker process
        channel = connect(address, MemberCredentials(code=MARKET, token=token), [("grpc.use_local_subchannel_pool", 1)])
        stub = issuance_pb2_grpc.IssuanceServiceStub(channel)
        bad = got = 0
        for reply in stub.BatchIssueLicenses(iter(part)):
            got += len(reply.results)
            bad += sum(r.HasField("error") for r in reply.results)
        with lock:
            errors[0] += bad
            answered[0] += got
        channel.close()

    # warm up the connection path (and the gateway's key and caches) outside the timing
    warm = connect(address, MemberCredentials(code=MARKET, token=token))
    list(issuance_pb2_grpc.IssuanceServiceStub(warm).BatchIssueLicenses(iter(batch_requests(50, run + "w", start=n))))
    warm.close()
    threads = [threading.Thread(target=one, args=(p,)) for p in parts]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - started
    print(json.dumps({"n": answered[0], "seconds": seconds, "errors": errors[0], "rate": answered[0] / seconds}))


if __name__ == "__main__":
    main()
