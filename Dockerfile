# syntax=docker/dockerfile:1
# meshd image: build with the dev toolchain, ship production dependencies only.
#   docker build -t meshd:0.1.0 .
# Base: Node.js 26 (Lithium), the Active LTS line since 2026-10-28, supported until 2029-04-30
# (nodejs/Release schedule). Node 20 reached end of life on 2026-04-30.

FROM node:26-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: the package's `prepare` (a build) needs the sources, copied below.
RUN npm ci --ignore-scripts
COPY tsconfig.json ./
COPY src ./src
COPY proto ./proto
COPY bin ./bin
RUN npm run build \
 && npm prune --omit=dev --ignore-scripts

FROM node:26-slim
ENV NODE_ENV=production
# glibc malloc: two arenas, and blocks of 128 KiB and more (response Buffers) always mmapped, so
# their memory goes back to the system when freed instead of staying in the arenas. Measured
# (BENCHMARKS.md, "Scale", the native allocator): steady RSS -36 % at 100 and -43 % at 500
# proxies x 1,000 services, for 6-45 % more CPU during the initial sync.
ENV MALLOC_ARENA_MAX=2
ENV MALLOC_MMAP_THRESHOLD_=131072
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/bin ./bin
COPY --from=build /app/proto ./proto
# The image's `node` user (uid/gid 1000); manifests/ runs the pod as the same ids
# with a read-only root filesystem: nothing under /app is written at run time.
USER 1000:1000
# 15010 xDS (plaintext gRPC), 15012 xDS + CA (TLS gRPC), 15014 /ready, /metrics, /debug.
EXPOSE 15010 15012 15014
ENTRYPOINT ["node", "bin/meshd", "serve"]
