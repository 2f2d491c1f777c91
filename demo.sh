#!/usr/bin/env bash
# The main job on an embedded default: installs what is missing, builds BlockSwarm, and runs
# `blockswarm demo` (a real ext4 image made with mkfs.ext4, mapped, hashed, deployed, verified).
# Extra arguments go to `blockswarm demo` (try --help).
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/install-deps.sh
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet build src/BlockSwarm.Cli -c Release -nologo -v:q -clp:ErrorsOnly
exec dotnet src/BlockSwarm.Cli/bin/Release/net10.0/blockswarm.dll demo "$@"
