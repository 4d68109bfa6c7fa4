# Whether sudo takes the password fed on stdin (never on a command line). `-k`: ignore a cached ticket, so the
# password itself is what is tested; `-p ''`: no prompt in the output.
echo @@picf:password
sudo -S -k -p '' true 2>/dev/null && echo accepted || echo refused
