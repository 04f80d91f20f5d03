//! The built-in dangerous-command patterns, after Hermes' list
//! (`tools/approval_detection.py`), in the pattern syntax of
//! [`super`]. Windows-only commands are left out: the terminal runs
//! `sh`.

/// A built-in dangerous-command pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DefaultPattern {
    pub pattern: &'static str,
    pub description: &'static str,
}

const fn p(pattern: &'static str, description: &'static str) -> DefaultPattern {
    DefaultPattern {
        pattern,
        description,
    }
}

/// The shells, for the patterns that run downloaded or decoded text.
macro_rules! shells {
    () => {
        "{sh,bash,zsh,ksh,dash,fish,csh,tcsh}"
    };
}

pub(super) const DEFAULTS: &[DefaultPattern] = &[
    p(
        "^rm ... {-[rR]*,-[!-]*[rR]*,--recursive}",
        "recursive delete (rm -r)",
    ),
    p(
        "^rm ... {/*,~*,$home*,${home}*,..,../*}",
        "delete outside the workspace (rm of an absolute, home or parent path)",
    ),
    p("^find ... -delete", "delete with find -delete"),
    p(
        "^find ... {-exec,-execdir,-ok,-okdir} rm",
        "delete with find -exec rm",
    ),
    p("^xargs ... rm", "delete with xargs rm"),
    p(
        "^{shred,wipefs,blkdiscard,sgdisk,fdisk,sfdisk,parted}",
        "wipe or repartition a disk (shred, wipefs, fdisk, …)",
    ),
    p(
        "^{mkfs,mkfs.*,mke2fs,mkswap,newfs*}",
        "format a filesystem (mkfs)",
    ),
    p("^dd ... {if=*,of=*}", "raw copy with dd"),
    p(
        "{>,>>} /dev/{sd,hd,vd,xvd,nvme,mmcblk,md,dm-,loop,nbd,disk,rdisk,mapper/}*",
        "write to a block device",
    ),
    p(
        "^chmod ... {777,0777,666,0666,*o+*w*,*a+*w*,o=*w*,a=*w*}",
        "world-writable permissions (chmod 777)",
    ),
    p(
        "^chown ... {-R,-[!-]*R*,--recursive}",
        "recursive change of owner (chown -R)",
    ),
    p(
        "^{sudo,su,doas,pkexec,run0}",
        "run as another user (sudo, su)",
    ),
    p(
        "^{shutdown,reboot,halt,poweroff}",
        "shut down or reboot the machine",
    ),
    p(
        "^{init,telinit} {0,6}",
        "shut down or reboot the machine (init 0/6)",
    ),
    p(
        "^systemctl ... {poweroff,reboot,halt,kexec,suspend,hibernate}",
        "shut down or reboot the machine (systemctl)",
    ),
    p(
        "^systemctl ... {stop,restart,disable,mask,kill}",
        "stop or disable a system service (systemctl)",
    ),
    p("^kill ... -1", "kill every process (kill -1)"),
    p("^{killall,killall5}", "kill processes by name (killall)"),
    p(
        "^pkill ... {-9,-KILL,-SIGKILL,-kill,-sigkill,-s}",
        "force-kill processes by name (pkill -9)",
    ),
    p("^{pkill,killall} ... hermod*", "kill hermod itself"),
    p(
        "^{kill,pkill} ... {$(,`} ^{pgrep,pidof}",
        "kill processes found by name (kill $(pgrep …))",
    ),
    p("^* ( ) \\{ ... | ... & ... \\} ; ^*", "fork bomb"),
    p(
        concat!("{curl,wget} ** | ^", shells!()),
        "run downloaded content in a shell (curl | sh)",
    ),
    p(
        "{curl,wget} ** | ^{python*,perl,ruby,node,php}",
        "run downloaded content in an interpreter (curl | python)",
    ),
    p(
        concat!("^", shells!(), " < ( ^{curl,wget}"),
        "run downloaded content in a shell (bash <(curl …))",
    ),
    p(
        "^{eval,source,.} {$(,`} ^{curl,wget}",
        "run downloaded content (eval $(curl …))",
    ),
    p(
        concat!("{base64,base32,xxd,openssl,rev,tr} ** | ^", shells!()),
        "run decoded content in a shell (possible obfuscation)",
    ),
    p(
        "^git ... push ... {--force*,-f*,-[!-]*f*,+*,--mirror}",
        "force push (rewrites remote history)",
    ),
    p(
        "^git ... reset ... --hard",
        "git reset --hard (drops uncommitted changes)",
    ),
    p(
        "^git ... clean ... {-f*,-[!-]*f*,--force}",
        "git clean -f (deletes untracked files)",
    ),
    p("^git ... branch ... -D", "force-delete a git branch"),
    p(
        "^git ... branch ... {-d,--delete} ... {-f,--force}",
        "force-delete a git branch",
    ),
    p(
        "^git ... branch ... {-f,--force} ... {-d,--delete}",
        "force-delete a git branch",
    ),
    p("drop {table,database,schema}", "SQL DROP"),
    p("truncate table", "SQL TRUNCATE"),
    p(
        "^{nc,ncat,netcat,socat,telnet,nmap,masscan}",
        "raw network tool (nc, socat, nmap)",
    ),
    p("/dev/{tcp,udp}/*", "network connection through /dev/tcp"),
    p("^{ssh,scp,sftp}", "connect to another machine (ssh, scp)"),
    p(
        "*{169.254.169.254,100.100.100.200,metadata.google.internal,fd00:ec2::254}*",
        "cloud metadata endpoint (instance credentials)",
    ),
    p("^crontab ... -r", "remove all cron jobs (crontab -r)"),
    p(
        "^{npm,pnpm} ... {uninstall,remove,rm,r,un,unlink}",
        "uninstall packages",
    ),
    p(
        "^{yarn,brew} ... {uninstall,remove,rm}",
        "uninstall packages",
    ),
    p("^{pip,pip3,pipx} ... uninstall", "uninstall packages"),
    p(
        "^{docker,podman} ... {stop,kill,restart,rm,rmi,prune,down}",
        "stop or remove containers (docker)",
    ),
    p("^{iptables,ip6tables,nft,ufw}", "change the firewall"),
];

/// The description of the rule written in code (see the module docs).
pub const OUTSIDE_WORKSPACE_RULE: &str = "write outside the workspace";

/// The built-in dangerous-command patterns, in the order they are
/// checked. Besides them, a write outside the workspace is asked about by
/// a rule in code ([`OUTSIDE_WORKSPACE_RULE`]).
///
/// A pattern is words separated by spaces, matched against consecutive
/// words of the command after normalization (quotes and backslashes
/// dropped, `$IFS` as a space, words other than flags lower-cased, a
/// command's path reduced to its name: `/bin/rm` is `rm`):
///
/// - a word glob: `*` any characters, `?` one, `[abc]`/`[a-z]`/`[!abc]`
///   one of a set, `{a,b}` alternatives, `\x` the character `x`; shell
///   operators (`|`, `>`, `;`, `$(`, …) are words of their own;
/// - `^word`: the word must start a command (after an operator, a
///   wrapper such as `sudo`, `env`, `nohup` or `xargs`, or `VAR=value`);
/// - `...`: any words within the same command;
/// - `**`: any words, across commands.
///
/// `^git ... push ... {-f*,--force*}` matches `git -C repo push -f` but
/// not `git push; grep -f x`.
pub fn default_dangerous_patterns() -> &'static [DefaultPattern] {
    DEFAULTS
}
