/**
 * OS command injection: a shell metacharacter (`;`, `&`, `|`, a backtick, `$(`, a line break)
 * followed by a command, command substitution, `$IFS` tricks, and `${jndi:` lookups (Log4Shell).
 * Commands that are also English words (id, echo, cat, sleep) only count with what makes them
 * commands (`cat /…`, `echo $…`, `sleep 5`), so "Q&A; cat lovers" passes.
 */
const COMMAND = /(?:[;&|`\n]|\$\()\s*(?:(?:ls|whoami|uname|wget|curl|nc|ncat|netcat|bash|sh|zsh|ksh|dash|python[23]?|perl|ruby|php|powershell|pwsh|cmd(?:\.exe)?|nslookup|telnet|chmod|chown|ifconfig|ipconfig|certutil|bitsadmin|sudo|mkfifo|xterm)(?=$|[\s;&|<>`'")])|(?:rm\s+-|cat\s+[/~.]|id\s*(?:$|[;&|`)])|pwd\s*(?:$|[;&|`)])|ping\s+-[a-z]|sleep\s+\d|echo\s+[$`]|net\s+user\b|type\s+[a-z]:\\|dir\s+[a-z]:\\))/;
const EXPANSION = /\$\{?ifs\b|\$\{\s*(?:jndi|env|sys|java|lower|upper|date|main|::-)[:}\s-]|\$\(\s*[a-z]/;

export function looksLikeCommandInjection(decodedLower: string): boolean {
  if (!/[;&|`\n$]/.test(decodedLower)) return false;
  return COMMAND.test(decodedLower) || EXPANSION.test(decodedLower);
}
