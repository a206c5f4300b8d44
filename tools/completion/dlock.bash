# bash completion for dlock(1). Installed as share/bash-completion/completions/dlock.
_dlock() {
    local cur prev words cword
    _init_completion 2>/dev/null || {
        cur=${COMP_WORDS[COMP_CWORD]}
        prev=${COMP_WORDS[COMP_CWORD-1]}
        words=("${COMP_WORDS[@]}")
        cword=$COMP_CWORD
    }
    local subcommands="run acquire release extend status list wait break"
    local connection="--url --cluster --cacert --cert --key --insecure --password-file"
    local taking="-t --ttl -w --wait --timeout -n --nonblock --no-wait -E --conflict-exit-code
                  -v --verbose -q --quiet --label --sleep --no-fence"

    case $prev in
        --cacert | --cert | --key | --password-file)
            COMPREPLY=($(compgen -f -- "$cur"))
            return ;;
        --url | -t | --ttl | -w | --wait | --timeout | -E | --conflict-exit-code | --label | \
            --sleep | --kill-after | -c | --command | --permits)
            return ;;
    esac

    local subcommand="" i
    for ((i = 1; i < cword; i++)); do
        case ${words[i]} in
            run | acquire | release | extend | status | list | wait | break)
                subcommand=${words[i]}
                break ;;
        esac
    done

    local options
    case $subcommand in
        "") COMPREPLY=($(compgen -W "$subcommands --version --help $connection" -- "$cur"))
            return ;;
        run) options="$taking -c --command --kill-after --progress --permits -s --shared -x
                      --exclusive" ;;
        acquire) options="$taking --fence --json" ;;
        release) options="-f --force" ;;
        extend) options="--replace" ;;
        status) options="--json" ;;
        list) options="--json" ;;
        wait) options="-w --wait --timeout --sleep -E --conflict-exit-code -v --verbose" ;;
        break) options="-y --yes" ;;
    esac
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$options $connection -h --help" -- "$cur"))
    elif [[ $subcommand == run ]]; then
        # After NAME comes COMMAND: complete command names.
        COMPREPLY=($(compgen -c -- "$cur"))
    fi
}
complete -F _dlock dlock
