//! The `pkcs11_login` suite: other processes (a forked child, read-only; pkcs11-tool).

use super::*;

/// Forks; the child runs `f` and exits 0 on success. Returns the child's exit status.
fn in_child(f: impl FnOnce() -> Result<(), String>) -> i32 {
    // SAFETY: fork() in a test process whose other tests wait for the turn lock; the child
    // only calls the module and ends with _exit, never returning into the test harness.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let code = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
            Ok(Ok(())) => 0,
            Ok(Err(message)) => {
                eprintln!("child: {message}");
                1
            }
            Err(_) => 2,
        };
        // SAFETY: ends the child without running the parent's exit handlers.
        unsafe { libc::_exit(code) };
    }
    let mut status = 0;
    // SAFETY: waits for our own child.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    assert!(libc::WIFEXITED(status), "child killed: {status:#x}");
    libc::WEXITSTATUS(status)
}

fn child(pool_slot: CK_SLOT_ID, uninit: CK_SLOT_ID) -> Result<(), String> {
    let expect = |what: &str, got: CK_RV, want: CK_RV| {
        if got == want {
            Ok(())
        } else {
            Err(format!("{what}: got {got:#x}, want {want:#x}"))
        }
    };
    expect("C_Initialize", initialize(), CKR_OK)?;
    if remote() {
        return remote_child(pool_slot);
    }
    let flags = raw_token_flags(pool_slot).map_err(|rv| format!("C_GetTokenInfo: {rv:#x}"))?;
    if flags & CKF_WRITE_PROTECTED == 0 || flags & CKF_USER_PIN_INITIALIZED == 0 {
        return Err(format!("token flags {flags:#x}"));
    }
    let s = raw_session(pool_slot, true).map_err(|rv| format!("C_OpenSession: {rv:#x}"))?;
    // A wrong PIN cannot be counted here: refused as a write.
    expect(
        "wrong PIN",
        raw_login(s, CKU_USER, Some(b"0000")),
        CKR_TOKEN_WRITE_PROTECTED,
    )?;
    // The right one needs no write.
    expect(
        "right PIN",
        raw_login(s, CKU_USER, Some(USER_PIN.as_bytes())),
        CKR_OK,
    )?;
    let mut info = CK_SESSION_INFO::default();
    // SAFETY: a valid out pointer.
    expect(
        "C_GetSessionInfo",
        unsafe { raw().C_GetSessionInfo(s, &mut info) },
        CKR_OK,
    )?;
    expect("session state", info.state, CKS_RW_USER_FUNCTIONS)?;
    // SAFETY: valid PIN buffers.
    let set = unsafe {
        raw().C_SetPIN(
            s,
            USER_PIN.as_ptr() as *mut u8,
            4,
            b"5678".as_ptr() as *mut u8,
            4,
        )
    };
    expect("C_SetPIN", set, CKR_TOKEN_WRITE_PROTECTED)?;
    expect(
        "C_InitToken",
        raw_init_token(uninit, SO_PIN.as_bytes(), "login-child"),
        CKR_TOKEN_WRITE_PROTECTED,
    )?;
    expect("C_Finalize", finalize(), CKR_OK)?;
    Ok(())
}

/// Remote mode: the child is one more client of the server, with nothing to adopt read-only.
/// Its wrong PIN is counted by the server and its right PIN clears the count again, so the
/// parent's checks below hold in both modes.
fn remote_child(pool_slot: CK_SLOT_ID) -> Result<(), String> {
    let expect = |what: &str, got: CK_RV, want: CK_RV| {
        if got == want {
            Ok(())
        } else {
            Err(format!("{what}: got {got:#x}, want {want:#x}"))
        }
    };
    let flags = raw_token_flags(pool_slot).map_err(|rv| format!("C_GetTokenInfo: {rv:#x}"))?;
    if flags & CKF_WRITE_PROTECTED != 0 || flags & CKF_USER_PIN_INITIALIZED == 0 {
        return Err(format!("token flags {flags:#x}"));
    }
    let s = raw_session(pool_slot, true).map_err(|rv| format!("C_OpenSession: {rv:#x}"))?;
    expect(
        "wrong PIN",
        raw_login(s, CKU_USER, Some(b"0000")),
        CKR_PIN_INCORRECT,
    )?;
    let flags = raw_token_flags(pool_slot).map_err(|rv| format!("C_GetTokenInfo: {rv:#x}"))?;
    if flags & CKF_USER_PIN_COUNT_LOW == 0 {
        return Err(format!(
            "the failure is not counted: token flags {flags:#x}"
        ));
    }
    expect(
        "right PIN",
        raw_login(s, CKU_USER, Some(USER_PIN.as_bytes())),
        CKR_OK,
    )?;
    let mut info = CK_SESSION_INFO::default();
    // SAFETY: a valid out pointer.
    expect(
        "C_GetSessionInfo",
        unsafe { raw().C_GetSessionInfo(s, &mut info) },
        CKR_OK,
    )?;
    expect("session state", info.state, CKS_RW_USER_FUNCTIONS)?;
    expect("C_Finalize", finalize(), CKR_OK)?;
    Ok(())
}

#[test]
fn a_forked_child_logs_in_but_cannot_write() {
    let mut m = start();
    let slot = m.new_pool_with_user("login-fork").id();
    let uninit = m.uninitialized().id();
    assert_eq!(
        in_child(|| child(slot, uninit)),
        0,
        "see the child's stderr"
    );
    // Nothing changed for the parent: no pool made, no failure counted, the PIN is the same.
    let t = m.token(m.slot_of("login-fork"));
    assert!(!t.write_protected() && !t.user_pin_count_low());
    assert!(
        m.ctx
            .get_all_slots()
            .unwrap()
            .iter()
            .all(|s| m.token(*s).label() != "login-child")
    );
    let s = m.ctx.open_rw_session(m.slot_of("login-fork")).unwrap();
    s.login(UserType::User, Some(&pin(USER_PIN))).unwrap();
    drop(s);
    m.restart();
    assert!(!m.token(m.slot_of("login-fork")).user_pin_count_low());
}

// pkcs11-tool, another process, on a directory this process never opens.

fn pkcs11_tool(dir: &Path, args: &[&str]) -> Output {
    let exe = ["/usr/bin/pkcs11-tool", "/usr/local/bin/pkcs11-tool"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("pkcs11-tool is missing: run ./scripts/test-all, which installs opensc");
    Command::new(exe)
        .arg("--module")
        .arg(module_path())
        .args(args)
        .env("MHSM_DATA_DIR", dir)
        .env_remove("MHSM_PKCS11_CONFIG")
        .env_remove("MHSM_LOG")
        .output()
        .expect("run pkcs11-tool")
}

fn ok(out: Output, what: &str) -> String {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "pkcs11-tool {what} failed:\n{text}");
    text
}

#[test]
fn pkcs11_tool_inits_a_token_and_a_pin_and_logs_in() {
    let dir = dir_with_pools(&[]);
    let d = dir.path();
    // A server always serves a pool (its default one), so in remote mode the uninitialized
    // token is not the only slot: name it (slot 0, its default id, in both modes).
    let slot: &[&str] = if remote() { &["--slot", "0"] } else { &[] };
    let out = ok(
        pkcs11_tool(
            d,
            &[
                slot,
                &[
                    "--init-token",
                    "--label",
                    "tooltoken",
                    "--so-pin",
                    "87654321",
                ],
            ]
            .concat(),
        ),
        "--init-token",
    );
    assert!(out.contains("successfully initialized"), "{out}");
    let out = ok(pkcs11_tool(d, &["--list-slots"]), "--list-slots");
    assert!(out.contains("token label        : tooltoken"), "{out}");
    assert!(
        out.contains("mhsm slot for a new pool"),
        "a fresh uninitialized slot:\n{out}"
    );

    let out = ok(
        pkcs11_tool(
            d,
            &[
                "--token-label",
                "tooltoken",
                "--init-pin",
                "--login",
                "--login-type",
                "so",
                "--so-pin",
                "87654321",
                "--pin",
                "1234",
            ],
        ),
        "--init-pin",
    );
    assert!(out.contains("User PIN successfully initialized"), "{out}");
    let out = ok(
        pkcs11_tool(d, &["--list-token-slots"]),
        "--list-token-slots",
    );
    assert!(out.contains("PIN initialized"), "{out}");

    // A login (the random numbers come after it; pkcs11-tool stops if C_Login fails).
    let login = ["--token-label", "tooltoken", "--login", "--pin"];
    let rand = ["--generate-random", "16"];
    let out = pkcs11_tool(d, &[&login[..], &["1234"], &rand[..]].concat());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout.len(), 16);
    let out = pkcs11_tool(d, &[&login[..], &["9999"], &rand[..]].concat());
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("CKR_PIN_INCORRECT"));
    let out = ok(
        pkcs11_tool(d, &["--list-token-slots"]),
        "--list-token-slots",
    );
    assert!(out.contains("user PIN count low"), "{out}");

    // Change the PIN, and log in with the new one.
    ok(
        pkcs11_tool(
            d,
            &[&login[..], &["1234", "--change-pin", "--new-pin", "4321"]].concat(),
        ),
        "--change-pin",
    );
    let out = pkcs11_tool(d, &[&login[..], &["4321"], &rand[..]].concat());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
