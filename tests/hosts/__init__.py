"""Host driver tests: protocol and checks, the local driver, the ssh driver on a real sshd."""
