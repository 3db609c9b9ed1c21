# The small image in two stages, for the benchmarks' quick run: a builder
# stage whose output the final stage copies.
FROM scratch AS builder
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
COPY scripts/setup.sh /tmp/setup.sh
RUN sh /tmp/setup.sh && mkdir -p /out/opt && cp -a /opt/toolchain /out/opt/

FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
COPY --from=builder /out/ /
COPY data/ /data/
RUN ls -l /data > /data.list && head -c 2097152 /dev/urandom > /data.bin
