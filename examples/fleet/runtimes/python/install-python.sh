#!/bin/sh
# Placeholder for the real installer: builds CPython $1 from source.
set -eu
echo "installing python $1"
