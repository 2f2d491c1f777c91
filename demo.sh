#!/usr/bin/env bash
# The main job on an embedded default: installs what is missing, builds BlockSwarm, and runs
# `blockswarm demo` (a real ext4 image made with mkfs.ext4, mapped, hashed, deployed, verified).
# Extra arguments go to `blockswarm demo` (try --help).
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/install-deps.sh
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
# A NativeAOT publish, as a deployment ships it: one self-contained native binary; every serve/deploy process the
# demo starts runs without JIT or runtime start-up work. (Without clang: -p:PublishAot=false -p:PublishReadyToRun=true
# --self-contained false, then run `dotnet artifacts/cli/blockswarm.dll`.)
dotnet publish src/BlockSwarm.Cli -c Release -r linux-x64 -p:PublishAot=true -o artifacts/cli -nologo -v:q -clp:ErrorsOnly
exec artifacts/cli/blockswarm demo "$@"
