"""A proxyless gRPC client on gRPC C-core (Debian's python3-grpcio): a second,
independent xDS implementation. Dials an xds:/// target with the bootstrap
named by GRPC_XDS_BOOTSTRAP, calls the echo service COUNT times and prints
one JSON line: successful calls per version and pod, failures per status."""
import argparse
import collections
import json
import sys

import grpc


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--target", required=True)
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--method", default="/meshd.demo.Echo/Echo")
    parser.add_argument("--header", action="append", default=[], help="NAME=VALUE metadata")
    parser.add_argument("--deadline", type=float, default=10.0, help="seconds per call")
    parser.add_argument("--batch", type=int, default=32, help="calls in flight at once")
    args = parser.parse_args()
    metadata = [tuple(h.split("=", 1)) for h in args.header]

    versions, pods, errors = collections.Counter(), collections.Counter(), collections.Counter()
    messages = []
    with grpc.insecure_channel(args.target) as channel:
        # No serializers: the echo service's messages are JSON bytes.
        call = channel.unary_unary(args.method)
        done = 0
        while done < args.count:
            size = min(args.batch, args.count - done)
            futures = [call.future(b"{}", metadata=metadata, timeout=args.deadline, wait_for_ready=True) for _ in range(size)]
            for future in futures:
                try:
                    reply = json.loads(future.result())
                    versions[reply["version"]] += 1
                    pods[reply["pod"]] += 1
                except grpc.RpcError as error:
                    errors[error.code().name] += 1
                    if error.details() not in messages:
                        messages.append(error.details())
            done += size
            if done >= args.batch and not versions:
                break  # nothing answers: report now rather than wait out every deadline
    json.dump({"versions": versions, "pods": pods, "errors": errors, "messages": messages, "total": done}, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
