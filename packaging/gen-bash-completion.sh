#!/usr/bin/env bash
# Writes bash completion for blockswarm to stdout, generated from the binary's own --help (commands, and each
# command's options; which of them take a value), so it cannot drift from the parser. Used by build-deb.sh.
#   packaging/gen-bash-completion.sh [BINARY] > blockswarm.bash
set -euo pipefail
bin=${1:-blockswarm}

# Option names of one help text, one line each: "NAME TAKES_VALUE" for every name of the option (-s and --source).
options_of() {
  "$bin" "$@" --help | awk '
    /^Options:/ { in_opts = 1; next }
    /^[A-Za-z]+:/ { in_opts = 0 }
    in_opts && /^  -/ {
      line = substr($0, 3)
      sub(/  .*/, "", line)               # the names and the value placeholder, before the description
      takes = (line ~ /</) ? 1 : 0
      n = split(line, parts, /[ ,]+/)
      for (i = 1; i <= n; i++) if (parts[i] ~ /^-/ && parts[i] != "-?") print parts[i], takes   # -? would glob
    }'
}

commands=$("$bin" --help | awk '/^Commands:/ { c = 1; next } /^[A-Za-z]+:/ { c = 0 } c && /^  [a-z]/ { print $1 }')
[ -n "$commands" ] || { echo "gen-bash-completion: no commands in '$bin --help'" >&2; exit 1; }

words() { awk '{ printf "%s%s", (NR > 1 ? " " : ""), $1 }'; }
valued() { awk '$2 == 1 { printf "%s%s", (n++ ? "|" : ""), $1 }'; }

cat <<'EOF'
# bash completion for blockswarm                                   -*- shell-script -*-
# Generated from `blockswarm --help` and each command's --help by packaging/gen-bash-completion.sh: do not edit.

_blockswarm()
{
    local cur=${COMP_WORDS[COMP_CWORD]} prev=
    ((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}
    local cmd= i opts= valued=
    COMPREPLY=()
EOF
printf '    local commands="%s"\n' "$(echo "$commands" | words)"
printf '    local global_opts="%s"\n' "$(options_of | words)"
cat <<'EOF'
    # The command is the first word that is neither an option nor the value of a global option.
    for ((i = 1; i < COMP_CWORD; i++)); do
        case ${COMP_WORDS[i]} in
            --log-level | --log-format) ((i++)) ;;
            -*) ;;
            *) cmd=${COMP_WORDS[i]}; break ;;
        esac
    done

    # Values with a fixed set of choices, and values that are paths.
    case $prev in
        --log-level) COMPREPLY=($(compgen -W "trace debug information warning error critical none" -- "$cur")); return ;;
        --log-format) COMPREPLY=($(compgen -W "text json" -- "$cur")); return ;;
        --policy) COMPREPLY=($(compgen -W "until-all-done ratio: idle: none" -- "$cur")); return ;;
        --piece-size) COMPREPLY=($(compgen -W "auto 256KiB 1MiB 4MiB 16MiB" -- "$cur")); return ;;
        -m | --map)
            if [[ $cur == partclone:* ]]; then
                local f
                while IFS= read -r f; do COMPREPLY+=("partclone:$f"); done < <(compgen -f -- "${cur#partclone:}")
            else
                COMPREPLY=($(compgen -W "auto all nonzero partclone:" -- "$cur"))
            fi
            return ;;
        -s | --source | -t | --torrent | --target | -o | --output | --resume | --torrent-out | --dir | --resume-dir | --allow)
            compopt -o filenames 2>/dev/null
            mapfile -t COMPREPLY < <(compgen -f -- "$cur")
            return ;;
    esac

    if [[ -z $cmd ]]; then
        if [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W "$global_opts" -- "$cur"))
        else
            COMPREPLY=($(compgen -W "$commands" -- "$cur"))
        fi
        return
    fi

    case $cmd in
EOF
for c in $commands; do
  list=$(options_of "$c")
  printf '        %s) opts="%s"; valued="%s" ;;\n' "$c" "$(echo "$list" | words)" "$(echo "$list" | valued)"
done
cat <<'EOF'
        *) return ;;
    esac

    # After an option that takes a free-form value (a number, a size, an address) there is nothing to offer.
    if [[ -n $prev && -n $valued ]] && [[ "|$valued|" == *"|$prev|"* ]]; then
        return
    fi
    if [[ $cmd == inspect && $cur != -* ]]; then
        compopt -o filenames 2>/dev/null
        mapfile -t COMPREPLY < <(compgen -f -- "$cur")
        return
    fi
    COMPREPLY=($(compgen -W "$opts" -- "$cur"))
} &&
    complete -F _blockswarm blockswarm

# ex: filetype=sh
EOF
