//! `HERMOD_HOME` and the privacy of what is in it.
//!
//! The home holds conversations (`hermod.db` with its `-wal` and `-shm`),
//! received files (`media/`), written deliveries (`output/`) and secrets
//! (`.env`, and keys `config.yaml` may hold): nothing in it is for other local
//! users. Two measures keep it so:
//!
//! - [`restrict_umask`], first thing in `main`, makes every file the process
//!   creates — by SQLite, an adapter, core or the CLI — 0600 and every
//!   directory 0700, without each of them having to ask;
//! - [`open`], in every command that uses the home, creates it 0700 and
//!   takes group and other permissions away from what an older hermod, a
//!   restored backup or a copy left readable, logging once what it changed.
//!
//! It also owns what is said when the home cannot be written (a permission
//! problem, with the path and the fix: [`Blocked`]) and the notice for
//! someone coming from Hermes Agent, whose home hermod does not read.

use crate::commands::err;
use crate::config;
use hermod_model::EnvVars;
use std::path::{Path, PathBuf};
use tracing::{info, warn};

/// The files directly in the home that must be private.
const PRIVATE_FILES: &[&str] = &[
    "hermod.db",
    "hermod.db-wal",
    "hermod.db-shm",
    ".env",
    "config.yaml",
];

/// The directories in the home whose whole contents must be private.
const PRIVATE_DIRS: &[&str] = &["media", "output"];

/// Whether a command may create the home when it does not exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Create {
    /// The command writes to the home (the gateway, pairing).
    Yes,
    /// The command only reads; a missing home is its own answer.
    No,
}

/// Makes files the process creates from now on private to its user
/// (umask 0o077: files 0600, directories 0700).
pub fn restrict_umask() {
    #[cfg(unix)]
    {
        use rustix::fs::Mode;
        rustix::process::umask(Mode::RWXG | Mode::RWXO);
    }
}

/// Finds `HERMOD_HOME`, creates it (0700) when `create` says so and it does
/// not exist, and makes what is already in it private.
pub fn open(process_env: &EnvVars, create: Create) -> anyhow::Result<PathBuf> {
    let home = config::home_dir(process_env)?;
    if let Some(hermes) = hermes_home_to_mention(process_env, &|p| p.exists()) {
        err(hermes_notice(&hermes, &home));
    }
    if create == Create::Yes
        && !home.exists()
        && let Err(e) = create_private_dir(&home)
    {
        let advice = cannot_create(&home, e.kind(), &writable);
        return Err(anyhow::Error::new(e).context(advice));
    }
    if home.is_dir() {
        let tightened = tighten(&home);
        if !tightened.is_empty() {
            info!(
                home = %home.display(),
                tightened = %tightened.join(", "),
                "made files in HERMOD_HOME private: other users could read them"
            );
        }
    }
    Ok(home)
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// Whether this user may write `path`. Root may write anything that is not
/// on a read-only filesystem.
pub fn writable(path: &Path) -> bool {
    #[cfg(unix)]
    {
        rustix::fs::access(path, rustix::fs::Access::WRITE_OK).is_ok()
    }
    #[cfg(not(unix))]
    {
        std::fs::metadata(path).is_ok_and(|m| !m.permissions().readonly())
    }
}

/// What keeps this user from writing a file in the home: a permission
/// problem, with the path to fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Blocked {
    /// The file, or the directory it must be created in, exists and is not
    /// writable.
    NotWritable(PathBuf),
    /// The directory does not exist and cannot be created in `parent`, the
    /// nearest directory above it that exists.
    CannotCreate { dir: PathBuf, parent: PathBuf },
}

impl Blocked {
    /// The first thing in the way of writing `file` (when given) in `dir`,
    /// as `writable` judges paths; `None` when permissions are not what
    /// stops it.
    pub fn find(dir: &Path, file: Option<&Path>, writable: &dyn Fn(&Path) -> bool) -> Option<Self> {
        if let Some(file) = file.filter(|f| f.exists())
            && !writable(file)
        {
            return Some(Self::NotWritable(file.to_owned()));
        }
        if dir.exists() {
            return (!writable(dir)).then(|| Self::NotWritable(dir.to_owned()));
        }
        let parent = dir.ancestors().skip(1).find(|a| a.exists())?;
        (!writable(parent)).then(|| Self::CannotCreate {
            dir: dir.to_owned(),
            parent: parent.to_owned(),
        })
    }

    /// What is wrong and the ways out, for `user` (as `chown` takes it).
    pub fn advice(&self, user: &str) -> String {
        let elsewhere = "or set HERMOD_HOME to a directory this user can write";
        match self {
            Self::NotWritable(path) => {
                let p = path.display();
                format!(
                    "a permission problem: {p} is not writable by this user (uid {user}); \
                     give it to this user with `chown -R {user} {p}` (as root) or make it writable \
                     with `chmod u+w {p}`, {elsewhere}"
                )
            }
            Self::CannotCreate { dir, parent } => {
                let d = dir.display();
                format!(
                    "a permission problem: this user (uid {user}) cannot create {d} in {}; \
                     create it for this user with `mkdir -p {d} && chown {user} {d}` (as root), \
                     {elsewhere}",
                    parent.display()
                )
            }
        }
    }
}

/// The id of the user hermod runs as, for the `chown` in advice.
pub fn user_id() -> String {
    #[cfg(unix)]
    {
        rustix::process::getuid().as_raw().to_string()
    }
    #[cfg(not(unix))]
    {
        "<user>".to_owned()
    }
}

/// The message for a home directory that could not be created.
fn cannot_create(
    home: &Path,
    kind: std::io::ErrorKind,
    writable: &dyn Fn(&Path) -> bool,
) -> String {
    let h = home.display();
    match Blocked::find(home, None, writable) {
        Some(blocked) => format!(
            "cannot create HERMOD_HOME {h}: {}",
            blocked.advice(&user_id())
        ),
        None if kind == std::io::ErrorKind::PermissionDenied => format!(
            "cannot create HERMOD_HOME {h}: a permission problem; create it for this user \
             (uid {user}) with `mkdir -p {h} && chown {user} {h}` (as root), or set HERMOD_HOME \
             to a directory this user can write",
            user = user_id()
        ),
        None => format!("cannot create HERMOD_HOME {h}"),
    }
}

/// Hermes Agent's home, when hermod should say it does not use it: no
/// `HERMOD_HOME`, no `~/.hermod` yet, and a Hermes home (`HERMES_HOME`, or
/// `~/.hermes`) that `exists`. Only whether it exists is looked at.
fn hermes_home_to_mention(env: &EnvVars, exists: &dyn Fn(&Path) -> bool) -> Option<PathBuf> {
    if env.get("HERMOD_HOME").is_some() {
        return None;
    }
    let user_home = Path::new(env.get("HOME")?);
    if exists(&user_home.join(".hermod")) {
        return None;
    }
    let hermes = env
        .get("HERMES_HOME")
        .map_or_else(|| user_home.join(".hermes"), PathBuf::from);
    exists(&hermes).then_some(hermes)
}

fn hermes_notice(hermes: &Path, home: &Path) -> String {
    let (from, to) = (hermes.display(), home.display());
    format!(
        "note: found Hermes Agent's home {from}; hermod does not read it and keeps its own files \
         in {to}. To bring your settings over, copy {from}/.env to {to}/.env (it works as it is) \
         and {from}/config.yaml to {to}/config.yaml (`hermod config check` shows what hermod \
         makes of it). Then `hermod import hermes {from}` brings over its conversations, chat \
         routes, approved users, home channels and scheduled jobs (`--dry-run` shows them first)."
    )
}

/// Takes group and other permissions from the home and the private files
/// and directories in it; returns what it changed, for the log (a
/// directory's entries are counted, not named). A path it cannot change is
/// logged and left as it is: the command still runs.
#[cfg(unix)]
fn tighten(home: &Path) -> Vec<String> {
    let mut changed = Vec::new();
    if make_private(home) {
        changed.push("HERMOD_HOME".to_owned());
    }
    for name in PRIVATE_FILES {
        if make_private(&home.join(name)) {
            changed.push((*name).to_owned());
        }
    }
    for name in PRIVATE_DIRS {
        let n = tighten_tree(&home.join(name));
        if n > 0 {
            changed.push(format!("{name}/ ({n} entries)"));
        }
    }
    changed
}

#[cfg(not(unix))]
fn tighten(_home: &Path) -> Vec<String> {
    Vec::new()
}

/// Makes `root` and everything under it private; returns how many entries
/// changed. Symbolic links are neither followed nor changed.
#[cfg(unix)]
fn tighten_tree(root: &Path) -> usize {
    let mut changed = 0;
    let mut pending = vec![root.to_owned()];
    while let Some(path) = pending.pop() {
        if make_private(&path) {
            changed += 1;
        }
        let is_dir = std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir());
        if !is_dir {
            continue;
        }
        match std::fs::read_dir(&path) {
            Ok(entries) => pending.extend(entries.filter_map(|e| e.ok()).map(|e| e.path())),
            Err(e) => {
                warn!(path = %path.display(), error = %e, "cannot list a directory to make it private")
            }
        }
    }
    changed
}

/// Clears the group and other bits of a file or directory (not of a
/// symbolic link's target); returns whether it changed anything.
#[cfg(unix)]
fn make_private(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return false;
    };
    let mode = meta.permissions().mode() & 0o7777;
    if meta.file_type().is_symlink() || mode & 0o077 == 0 {
        return false;
    }
    match std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & !0o077)) {
        Ok(()) => true,
        Err(e) => {
            warn!(path = %path.display(), error = %e, "cannot make a file in HERMOD_HOME private");
            false
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        std::fs::symlink_metadata(path)
            .expect("metadata")
            .permissions()
            .mode()
            & 0o777
    }

    fn chmod(path: &Path, mode: u32) {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    }

    #[test]
    fn tightens_the_home_its_files_and_its_directories_recursively() {
        let dir = tempfile::tempdir().expect("tempdir");
        let home = dir.path();
        let nested = home.join("media").join("chat");
        std::fs::create_dir_all(&nested).expect("mkdir");
        std::fs::create_dir_all(home.join("output")).expect("mkdir");
        for file in ["hermod.db", ".env", "media/chat/photo.jpg", "output/a.md"] {
            std::fs::write(home.join(file), "x").expect("write");
            chmod(&home.join(file), 0o644);
        }
        std::fs::write(home.join("notes.txt"), "mine").expect("write");
        chmod(&home.join("notes.txt"), 0o644);
        std::os::unix::fs::symlink(home.join("notes.txt"), home.join("media/link"))
            .expect("symlink");
        for d in [home, &home.join("media"), &nested, &home.join("output")] {
            chmod(d, 0o755);
        }
        chmod(&home.join("hermod.db"), 0o440);

        let changed = tighten(home);
        assert_eq!(
            changed,
            [
                "HERMOD_HOME",
                "hermod.db",
                ".env",
                "media/ (3 entries)",
                "output/ (2 entries)"
            ]
        );
        assert_eq!(mode(home), 0o700);
        assert_eq!(mode(&home.join("hermod.db")), 0o400, "only access is taken");
        assert_eq!(mode(&home.join(".env")), 0o600);
        assert_eq!(mode(&nested), 0o700);
        assert_eq!(mode(&home.join("media/chat/photo.jpg")), 0o600);
        assert_eq!(mode(&home.join("output/a.md")), 0o600);
        assert_eq!(
            mode(&home.join("notes.txt")),
            0o644,
            "a link's target outside the private set is left alone"
        );
        assert!(tighten(home).is_empty(), "a second pass changes nothing");
    }

    #[test]
    fn open_creates_a_missing_home_private_only_when_asked() {
        let dir = tempfile::tempdir().expect("tempdir");
        let home = dir.path().join("a").join("home");
        let env: EnvVars = [("HERMOD_HOME", home.to_str().expect("utf-8"))]
            .into_iter()
            .collect();
        assert_eq!(open(&env, Create::No).expect("open"), home);
        assert!(!home.exists());
        open(&env, Create::Yes).expect("open");
        assert_eq!(mode(&home), 0o700);
    }

    fn vars(pairs: &[(&str, &str)]) -> EnvVars {
        pairs.iter().copied().collect()
    }

    #[test]
    fn hermes_home_is_mentioned_only_before_hermod_has_one() {
        let present = |paths: &'static [&'static str]| {
            move |p: &Path| paths.iter().any(|q| Path::new(q) == p)
        };
        let home = vars(&[("HOME", "/u")]);
        assert_eq!(
            hermes_home_to_mention(&home, &present(&["/u/.hermes"])),
            Some(PathBuf::from("/u/.hermes"))
        );
        assert_eq!(hermes_home_to_mention(&home, &present(&[])), None);
        assert_eq!(
            hermes_home_to_mention(&home, &present(&["/u/.hermes", "/u/.hermod"])),
            None,
            "hermod has its own home already"
        );
        let own = vars(&[("HOME", "/u"), ("HERMOD_HOME", "/srv/hermod")]);
        assert_eq!(
            hermes_home_to_mention(&own, &present(&["/u/.hermes"])),
            None
        );
        let moved = vars(&[("HOME", "/u"), ("HERMES_HOME", "/srv/hermes")]);
        assert_eq!(
            hermes_home_to_mention(&moved, &present(&["/srv/hermes"])),
            Some(PathBuf::from("/srv/hermes"))
        );
        assert_eq!(
            hermes_home_to_mention(&moved, &present(&["/u/.hermes"])),
            None,
            "HERMES_HOME names Hermes' home when it is set"
        );
    }

    #[test]
    fn the_hermes_notice_says_what_to_copy_and_how_to_import_the_rest() {
        let notice = hermes_notice(Path::new("/u/.hermes"), Path::new("/u/.hermod"));
        for part in [
            "/u/.hermes",
            "does not read it",
            "copy /u/.hermes/.env to /u/.hermod/.env",
            "/u/.hermes/config.yaml to /u/.hermod/config.yaml",
            "`hermod import hermes /u/.hermes` brings over its conversations",
        ] {
            assert!(notice.contains(part), "{part}: {notice}");
        }
    }

    /// `writable` says no to exactly `denied`.
    fn denying(denied: &Path) -> impl Fn(&Path) -> bool + '_ {
        move |p: &Path| p != denied
    }

    #[test]
    fn the_path_in_the_way_is_the_first_that_cannot_be_written() {
        let dir = tempfile::tempdir().expect("tempdir");
        let home = dir.path().join("home");
        let db = home.join("hermod.db");
        std::fs::create_dir(&home).expect("mkdir");
        std::fs::write(&db, "").expect("write");
        assert_eq!(
            Blocked::find(&home, Some(&db), &denying(&db)),
            Some(Blocked::NotWritable(db.clone()))
        );
        assert_eq!(
            Blocked::find(&home, Some(&db), &denying(&home)),
            Some(Blocked::NotWritable(home.clone()))
        );
        assert_eq!(Blocked::find(&home, Some(&db), &|_| true), None);

        let missing = dir.path().join("a").join("home");
        assert_eq!(
            Blocked::find(&missing, None, &denying(dir.path())),
            Some(Blocked::CannotCreate {
                dir: missing.clone(),
                parent: dir.path().to_owned()
            })
        );
        assert_eq!(Blocked::find(&missing, None, &denying(&home)), None);
    }

    #[test]
    fn a_home_that_cannot_be_created_is_a_permission_problem_with_the_fix() {
        let dir = tempfile::tempdir().expect("tempdir");
        let home = dir.path().join("home");
        let denied = std::io::ErrorKind::PermissionDenied;
        let message = cannot_create(&home, denied, &denying(dir.path()));
        let (h, parent, uid) = (home.display(), dir.path().display(), user_id());
        assert_eq!(
            message,
            format!(
                "cannot create HERMOD_HOME {h}: a permission problem: this user (uid {uid}) \
                 cannot create {h} in {parent}; create it for this user with \
                 `mkdir -p {h} && chown {uid} {h}` (as root), or set HERMOD_HOME to a directory \
                 this user can write"
            )
        );
        // Told denied though every path looks writable (an ACL, a security
        // module): still a permission problem, and still what to do.
        let message = cannot_create(&home, denied, &|_| true);
        assert!(
            message.contains("a permission problem") && message.contains("set HERMOD_HOME"),
            "{message}"
        );
        let other = cannot_create(&home, std::io::ErrorKind::StorageFull, &|_| true);
        assert_eq!(other, format!("cannot create HERMOD_HOME {h}"));
    }

    /// Root is not stopped by modes, so this shows nothing as root and says so.
    #[test]
    fn a_read_only_parent_is_found_by_the_real_check() {
        let dir = tempfile::tempdir().expect("tempdir");
        let locked = dir.path().join("locked");
        std::fs::create_dir(&locked).expect("mkdir");
        chmod(&locked, 0o500);
        if writable(&locked) {
            eprintln!("skipped: file modes do not stop this user (root?)");
            return;
        }
        let home = locked.join("home");
        let error = open(
            &vars(&[("HERMOD_HOME", home.to_str().expect("utf-8"))]),
            Create::Yes,
        )
        .expect_err("cannot create the home");
        let message = error.to_string();
        assert!(
            message.contains("a permission problem")
                && message.contains(&format!(
                    "cannot create {} in {}",
                    home.display(),
                    locked.display()
                )),
            "{message}"
        );
        chmod(&locked, 0o700);
    }
}
