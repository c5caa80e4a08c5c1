#!/bin/bash
# healthcheck.sh of the mariadb:11 stand-in: the official script's --connect (the server
# answers on its usual socket, which the initialisation server does not use) and
# --innodb_initialized (InnoDB is available). Other options are accepted and ignored.
# Runs as the container's user (mysql), who logs in by unix_socket.
set -u
client=(mariadb --protocol=socket --socket=/run/mysqld/mysqld.sock -N -B)
for arg in "$@"; do
  case $arg in
    --connect)
      "${client[@]}" -e 'SELECT 1' >/dev/null 2>&1 || exit 1 ;;
    --innodb_initialized)
      out=$("${client[@]}" -e "SELECT 1 FROM information_schema.ENGINES WHERE engine = 'InnoDB' AND support IN ('YES', 'DEFAULT', 'ENABLED')" 2>/dev/null) || exit 1
      [[ $out == 1 ]] || exit 1 ;;
  esac
done
exit 0
