# The toolchain image built in two stages, as images that build their own
# tools are: the builder stage installs everything and stages the cross
# toolchain into /out; the final image copies only that. The cache (mode=max)
# holds both stages, the image only the second.
FROM scratch AS builder
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
COPY rootfs/base/ /
RUN --mount=type=bind,source=debs/gcc,target=/debs for p in /debs/*.deb; do dpkg-deb -x "$p" /; done
RUN --mount=type=bind,source=debs/llvm,target=/debs for p in /debs/*.deb; do dpkg-deb -x "$p" /; done
COPY rootfs/perl/ /
COPY scripts/ /ci/
RUN sh /ci/selftest.sh && sh /ci/stage.sh /out

FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
COPY rootfs/base/ /
COPY --from=builder /out/ /
COPY config/ /ci/config/
RUN sh /ci/config/apply.sh /opt/release
