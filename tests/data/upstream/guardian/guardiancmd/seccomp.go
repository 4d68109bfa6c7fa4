// Fixture written for picf's tests: the 2018 shape of guardian's default seccomp profile (x86 only).
package guardiancmd

import specs "github.com/opencontainers/runtime-spec/specs-go"

var seccomp = &specs.LinuxSeccomp{
	DefaultAction: specs.ActErrno,
	Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32}, // want: seccomp-arch-missing
	Syscalls: []specs.LinuxSyscall{
		{
			Names: []string{
				"accept",
				"close",
				"execve",
				"exit_group",
				"read",
				"write",
			},
			Action: specs.ActAllow,
		},
	},
}
