# lib.sh: shared pieces of the tests against a real S3 server (sourced
# after ../integration/lib.sh). The server is tests/env/s3.sh's
# (start it first); its address, bucket and keys come from "s3.sh env".
# The gateway's own PAIA_STORAGE_S3_* variables are not exported: each
# test writes the configuration it means.

S3ENV=$SRCDIR/tests/env/s3.sh
XFER=${XFER:-$BUILDDIR/tests/s3/s3-xfer}
eval "$("$S3ENV" env | grep '^export S3_')"
run=${run:-$(date +%s)-$$}

# s3_conf FILE [RETRIES]: a [storage] section for the test server (20
# retries 100 ms to 1 s apart: 10 to 18 s of patience), the
# secret in a file of its own (mode 0600) beside FILE.
s3_conf() {
	local key=${1%.conf}.secret
	( umask 077; printf '%s\n' "$S3_SECRET_KEY" > "$key" )
	cat > "$1" <<CONF
[storage]
s3_endpoint = $S3_ENDPOINT
s3_region = $S3_REGION
s3_access_key = $S3_ACCESS_KEY
s3_secret_key_file = $key
retries = ${2:-20}
backoff_ms = 100
backoff_max_ms = 1000
connect_timeout_s = 5
low_speed_s = 10
CONF
}

# s3curl METHOD PATH [curl args...]: a request signed by the curl program
# (another client than the one under test); the key pair goes through
# stdin, never argv. Prints the body; -D FILE keeps the headers.
s3curl() {
	local method=$1 path=$2 how; shift 2
	if [ "$method" = HEAD ]; then how=--head; else how="-X $method"; fi
	# shellcheck disable=SC2086
	printf 'user = "%s:%s"\n' "$S3_ACCESS_KEY" "$S3_SECRET_KEY" |
		curl -K - -sS --max-time 30 $how --aws-sigv4 "aws:amz:$S3_REGION:s3" \
		-H "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" \
		"$@" "$S3_ENDPOINT$path"
}

# s3_header KEY NAME: a response header of HEAD /bucket/KEY (empty if absent).
s3_header() {
	s3curl HEAD "/$S3_BUCKET/$1" | tr -d '\r' |
		awk -v n="$(echo "$2" | tr 'A-Z' 'a-z')" -F': ' 'tolower($1) == n { print $2 }'
}

# s3_status KEY: the HTTP status of HEAD /bucket/KEY.
s3_status() { s3curl HEAD "/$S3_BUCKET/$1" -o /dev/null -w '%{http_code}'; }

# s3_uploads PREFIX: multipart uploads in progress below PREFIX (a count).
s3_uploads() {
	s3curl GET "/$S3_BUCKET?prefix=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe="-_.~"))' "$1")&uploads=" |
		grep -o '<UploadId>' | wc -l
}

# s3_requests KEY PATTERN: requests for /bucket/KEY in the server's log
# whose line matches PATTERN (e.g. "| 200 |.*partNumber=").
s3_requests() { grep -F "| /$S3_BUCKET/$1 |" "$S3_SERVER_LOG" | grep -c -E -- "$2"; }

sha() { sha256sum "$1" | cut -c1-64; }

# field LINE NAME: a name=value field of s3-xfer's result line.
field() { printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n 1; }
