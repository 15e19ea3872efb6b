"""The baseline: a bare gRPC server of the same model as the gateway (sync, thread pool) that answers every
BatchIssueLicenses message with one result per item of the size the gateway sends — no validation, sealing or
storage.

    python -m benchmarks.bare_server PORT
"""

from __future__ import annotations

import argparse
from concurrent import futures

import grpc

from benchmarks.payloads import bare_response, batch_result
from protos.zzgw.v1 import issuance_pb2_grpc


class BareIssuance(issuance_pb2_grpc.IssuanceServiceServicer):
    def BatchIssueLicenses(self, request_iterator, context):
        template = batch_result()
        index = 0
        for request in request_iterator:
            yield bare_response(template, request, index)
            index += len(request.licenses)


def main() -> None:
    from gateway.server import tune_gc

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("port", type=int, help="the port to listen on, on 127.0.0.1")
    port = parser.parse_args().port
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
    issuance_pb2_grpc.add_IssuanceServiceServicer_to_server(BareIssuance(), server)
    from grpc_health.v1 import health, health_pb2_grpc

    health_pb2_grpc.add_HealthServicer_to_server(health.HealthServicer(), server)
    server.add_insecure_port(f"127.0.0.1:{port}")
    tune_gc()  # as the gateway
    server.start()
    server.wait_for_termination()


if __name__ == "__main__":
    main()
