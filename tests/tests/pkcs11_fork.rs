//! fork(): the child of an initialized process gets `CKR_CRYPTOKI_NOT_INITIALIZED` from every
//! call until it calls `C_Initialize` itself, then works; its `C_Finalize` leaves the parent
//! working, and the parent's data directory intact.

mod pkcs11_common;

use cryptoki_sys::*;
use hsm_core::PoolSettings;
use hsm_core::names::Tags;
use pkcs11_common::*;

fn open_session(slot: CK_SLOT_ID) -> Result<CK_SESSION_HANDLE, CK_RV> {
    let mut h = 0;
    // SAFETY: valid pointers.
    match unsafe {
        raw().C_OpenSession(slot, CKF_SERIAL_SESSION, std::ptr::null_mut(), None, &mut h)
    } {
        CKR_OK => Ok(h),
        rv => Err(rv),
    }
}

fn random(session: CK_SESSION_HANDLE) -> Result<Vec<u8>, CK_RV> {
    let mut buf = vec![0u8; 32];
    // SAFETY: a 32-byte buffer.
    match unsafe { raw().C_GenerateRandom(session, buf.as_mut_ptr(), 32) } {
        CKR_OK => Ok(buf),
        rv => Err(rv),
    }
}

fn sha256(session: CK_SESSION_HANDLE, data: &[u8]) -> Result<Vec<u8>, CK_RV> {
    let mut m = CK_MECHANISM {
        mechanism: CKM_SHA256,
        pParameter: std::ptr::null_mut(),
        ulParameterLen: 0,
    };
    let mut out = vec![0u8; 32];
    let mut len: CK_ULONG = 32;
    // SAFETY: valid pointers and lengths.
    unsafe {
        match raw().C_DigestInit(session, &mut m) {
            CKR_OK => {}
            rv => return Err(rv),
        }
        match raw().C_Digest(
            session,
            data.as_ptr() as *mut u8,
            data.len() as CK_ULONG,
            out.as_mut_ptr(),
            &mut len,
        ) {
            CKR_OK => Ok(out),
            rv => Err(rv),
        }
    }
}

fn slot_list() -> Result<Vec<CK_SLOT_ID>, CK_RV> {
    let mut count: CK_ULONG = 0;
    // SAFETY: valid pointers.
    match unsafe { raw().C_GetSlotList(0, std::ptr::null_mut(), &mut count) } {
        CKR_OK => Ok(slot_ids()),
        rv => Err(rv),
    }
}

/// What the child does; any difference from the expected answers is an error.
fn child(parent_session: CK_SESSION_HANDLE, pool_slot: CK_SLOT_ID) -> Result<(), String> {
    let expect = |what: &str, got: CK_RV, want: CK_RV| {
        if got == want {
            Ok(())
        } else {
            Err(format!("{what}: got {got:#x}, want {want:#x}"))
        }
    };
    let nothing = |r: Result<Vec<u8>, CK_RV>| r.err().unwrap_or(CKR_OK);
    // Inherited but not initialized here.
    let mut info = CK_INFO::default();
    // SAFETY: a valid out pointer.
    expect(
        "C_GetInfo",
        unsafe { raw().C_GetInfo(&mut info) },
        CKR_CRYPTOKI_NOT_INITIALIZED,
    )?;
    expect(
        "C_GetSlotList",
        slot_list().err().unwrap_or(CKR_OK),
        CKR_CRYPTOKI_NOT_INITIALIZED,
    )?;
    expect(
        "C_OpenSession",
        open_session(pool_slot).err().unwrap_or(CKR_OK),
        CKR_CRYPTOKI_NOT_INITIALIZED,
    )?;
    expect(
        "parent's session",
        nothing(random(parent_session)),
        CKR_CRYPTOKI_NOT_INITIALIZED,
    )?;
    expect(
        "C_Finalize before",
        finalize(),
        CKR_CRYPTOKI_NOT_INITIALIZED,
    )?;
    // Initialize: it works, the pools are there, the parent's sessions are not.
    expect("C_Initialize", initialize(), CKR_OK)?;
    expect(
        "C_Initialize again",
        initialize(),
        CKR_CRYPTOKI_ALREADY_INITIALIZED,
    )?;
    let slots = slot_list().map_err(|rv| format!("C_GetSlotList: {rv:#x}"))?;
    if !slots.contains(&pool_slot) {
        return Err(format!("pool slot {pool_slot} missing from {slots:?}"));
    }
    expect(
        "parent's session after init",
        nothing(random(parent_session)),
        CKR_SESSION_HANDLE_INVALID,
    )?;
    let s = open_session(pool_slot).map_err(|rv| format!("C_OpenSession: {rv:#x}"))?;
    random(s).map_err(|rv| format!("C_GenerateRandom: {rv:#x}"))?;
    let d = sha256(s, b"abc").map_err(|rv| format!("C_Digest: {rv:#x}"))?;
    if d[..4] != [0xba, 0x78, 0x16, 0xbf] {
        return Err("wrong digest".into());
    }
    expect("C_Finalize", finalize(), CKR_OK)?;
    expect("C_Finalize twice", finalize(), CKR_CRYPTOKI_NOT_INITIALIZED)?;
    Ok(())
}

/// Forks; the child runs `f` and exits 0 on success. Returns the child's exit status.
fn in_child(f: impl FnOnce() -> Result<(), String>) -> i32 {
    // SAFETY: fork() in a test process; the child only calls the module and exits with
    // _exit, never returning into the test harness.
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

#[test]
fn fork_child_initializes_again_and_the_parent_is_unaffected() {
    create_pools(&["forked"]);
    assert_eq!(initialize(), CKR_OK);
    let pool_slot = slot_ids()[0];
    let parent_session = open_session(pool_slot).unwrap();
    let before = sha256(parent_session, b"abc").unwrap();

    assert_eq!(
        in_child(|| child(parent_session, pool_slot)),
        0,
        "see the child's stderr"
    );
    // A child that never initializes, and only calls C_Finalize.
    assert_eq!(
        in_child(|| match finalize() {
            CKR_CRYPTOKI_NOT_INITIALIZED => Ok(()),
            rv => Err(format!("C_Finalize: {rv:#x}")),
        }),
        0
    );

    // The parent's session and module still work.
    assert_eq!(random(parent_session).unwrap().len(), 32);
    assert_eq!(sha256(parent_session, b"abc").unwrap(), before);
    let second = open_session(pool_slot).unwrap();
    random(second).unwrap();
    assert_eq!(finalize(), CKR_OK);

    // The data directory is intact: the core opens it and writes to it, and the module
    // sees the new pool.
    with_core(|hsm| {
        assert_eq!(hsm.list_pools().unwrap().len(), 1);
        hsm.create_pool("after-fork", PoolSettings::default(), Tags::new())
            .unwrap();
    });
    assert_eq!(initialize(), CKR_OK);
    assert_eq!(slot_ids().len(), 3);
    assert_eq!(finalize(), CKR_OK);
}
