// Fixture written for picf's lint tests: what the 2018 port did, and a profile that is fine.
package seccompjson

type Spec struct{ Linux *Linux }
type Linux struct{ Seccomp *Profile }
type Profile struct{ Architectures []string }

func off(s *Spec) { s.Linux.Seccomp = nil } // want: seccomp-disabled

var good = Profile{Architectures: []string{"SCMP_ARCH_X86_64", "SCMP_ARCH_ARM", "SCMP_ARCH_AARCH64"}}
