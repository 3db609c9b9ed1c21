#!/bin/sh
# Shared by the example images, as CI images share install scripts.
set -eu
apk add --no-cache "$@"
