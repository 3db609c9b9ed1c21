// A build's plain progress, as buildx 0.13 prints it: two steps CACHED, two
// that ran, the internal steps left out of the count.
export const progress = `#0 building with "default" instance using docker driver
#1 [internal] load build definition from Dockerfile
#1 DONE 0.0s
#5 [1/4] COPY busybox /bin/busybox
#5 CACHED
#6 [2/4] RUN ["/bin/busybox", "--install", "-s", "/bin"]
#6 CACHED
#7 [3/4] COPY data/ /data/
#7 DONE 0.1s
#8 [4/4] RUN ls /data
#8 0.120 something
#8 DONE 0.2s
#9 exporting to image
`
