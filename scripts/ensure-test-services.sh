#!/usr/bin/env bash
# What the test suite needs beyond ensure-deps.sh: MariaDB (the system of record in tests) and
# Debian's Chromium (the kiosk page is tested in a real browser). Installs missing Debian
# packages (needs root, as on this project's machines), starts MariaDB if it is not answering,
# and creates the test account `icc`/`icc`. Idempotent.
set -euo pipefail

missing=()
command -v mysqld_safe >/dev/null 2>&1 || missing+=(mariadb-server)
[ -x /usr/bin/chromium ] || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
  echo "Installing Debian packages: ${missing[*]}…"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Sizes for the settlement benchmark's million sales (Debian's defaults: a 128 MB buffer pool and a
# 96 MB redo log, which turn the bench into a disk-flush test). Read when MariaDB starts.
if [ -d /etc/mysql/mariadb.conf.d ] && [ ! -f /etc/mysql/mariadb.conf.d/60-icc.cnf ]; then
  cat >/etc/mysql/mariadb.conf.d/60-icc.cnf <<'CNF'
[mysqld]
innodb_buffer_pool_size = 1G
innodb_log_file_size = 512M
CNF
fi

if ! mysqladmin --user=root ping >/dev/null 2>&1; then
  echo "Starting MariaDB…"
  mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld
  (mysqld_safe >/tmp/mysqld_safe.log 2>&1 &)
  for _ in $(seq 1 60); do
    mysqladmin --user=root ping >/dev/null 2>&1 && break
    sleep 0.5
  done
  mysqladmin --user=root ping >/dev/null 2>&1 || { echo "MariaDB did not start; see /tmp/mysqld_safe.log" >&2; exit 1; }
fi

mysql --user=root <<'SQL'
CREATE USER IF NOT EXISTS 'icc'@'localhost' IDENTIFIED BY 'icc';
CREATE USER IF NOT EXISTS 'icc'@'127.0.0.1' IDENTIFIED BY 'icc';
GRANT ALL ON *.* TO 'icc'@'localhost';
GRANT ALL ON *.* TO 'icc'@'127.0.0.1';
FLUSH PRIVILEGES;
SQL
