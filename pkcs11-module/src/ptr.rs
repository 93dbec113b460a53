//! The one place where C pointers become Rust values, and the only module with `unsafe`.
//!
//! Every exported `C_*` function receives raw pointers from its caller. PKCS#11 makes the
//! caller promise that each pointer is either NULL or valid for what the specification says
//! the function reads or writes (one value, or `len` items), for the length of the call.
//! These helpers check the NULL case (`CKR_ARGUMENTS_BAD`) and rely on that promise for the
//! rest. The promise cannot be checked, so each helper that dereferences is an `unsafe fn`
//! whose `# Safety` section states it, and each caller names in a `// SAFETY:` comment the
//! PKCS#11 argument it passes on (the crate denies `unsafe_op_in_unsafe_fn`, so every
//! dereference sits in such a block). Pointers must be passed exactly as they arrived from
//! a C caller (or, in tests, point to live memory of the stated size).
//!
//! Also here: the count of `fork()`s this process came through (a `pthread_atfork` child
//! handler), blank-padded strings for the fixed-size fields of `CK_INFO` & co., and the
//! two-call length convention (a NULL buffer asks for the length; a short one gets
//! `CKR_BUFFER_TOO_SMALL` and the length).
#![allow(unsafe_code)]

use std::marker::PhantomData;
use std::sync::Once;
use std::sync::atomic::{AtomicU64, Ordering};

use cryptoki_sys::{
    CK_ATTRIBUTE, CK_ATTRIBUTE_TYPE, CK_MECHANISM, CK_RV, CK_ULONG, CK_UNAVAILABLE_INFORMATION,
    CKR_ARGUMENTS_BAD, CKR_ATTRIBUTE_SENSITIVE, CKR_ATTRIBUTE_TYPE_INVALID, CKR_BUFFER_TOO_SMALL,
    CKR_GENERAL_ERROR, CKR_MECHANISM_PARAM_INVALID, CKR_OK,
};

/// How many `fork()`s made this process (counted in each child).
static FORKS: AtomicU64 = AtomicU64::new(0);
static FORK_HANDLER: Once = Once::new();

extern "C" fn forked_child() {
    // One atomic add: async-signal-safe, as a handler run in a fork child must be.
    FORKS.fetch_add(1, Ordering::SeqCst);
}

/// A number that differs in every process made by `fork()` from this one: a module compares
/// it with the one it was initialized in, so telling a fork child apart costs no system call
/// (`getpid`) per PKCS#11 call. The first call installs the handler that counts.
pub(crate) fn process_epoch() -> u64 {
    FORK_HANDLER.call_once(|| {
        // SAFETY: `forked_child` is a plain `extern "C" fn()` that only does an atomic add
        // (allowed in a fork child); glibc ties the registration to this shared object and
        // drops it when the object is unloaded, so it never calls into unmapped code.
        let rc = unsafe { libc::pthread_atfork(None, None, Some(forked_child)) };
        if rc != 0 {
            tracing::error!(rc, "pthread_atfork failed: fork children are not detected");
        }
    });
    FORKS.load(Ordering::SeqCst)
}

/// Reads one value. NULL → `CKR_ARGUMENTS_BAD`.
///
/// # Safety
/// `p` is NULL or valid for reading a `T` (alignment not needed), and `T` is a C type any
/// bit pattern of which is valid (integers, pointers, structs of those).
pub(crate) unsafe fn read<T: Copy>(p: *const T) -> Result<T, CK_RV> {
    if p.is_null() {
        return Err(CKR_ARGUMENTS_BAD);
    }
    // SAFETY: non-NULL, and by this function's contract valid for reading a `T` of any bit
    // pattern. `read_unaligned` tolerates callers that pack structs.
    Ok(unsafe { p.read_unaligned() })
}

/// Reads one value if the pointer is not NULL.
///
/// # Safety
/// As [`read`].
pub(crate) unsafe fn read_opt<T: Copy>(p: *const T) -> Option<T> {
    // SAFETY: this function's contract is `read`'s.
    unsafe { read(p) }.ok()
}

/// Writes one value. NULL → `CKR_ARGUMENTS_BAD`.
///
/// # Safety
/// `p` is NULL or valid for writing a `T` (alignment not needed).
pub(crate) unsafe fn write<T>(p: *mut T, value: T) -> Result<(), CK_RV> {
    if p.is_null() {
        return Err(CKR_ARGUMENTS_BAD);
    }
    // SAFETY: non-NULL, and by this function's contract writable for a `T`.
    unsafe { p.write_unaligned(value) };
    Ok(())
}

/// Checks that an output pointer is not NULL, without writing (for argument checks that must
/// come before any work is done).
pub(crate) fn non_null<T>(p: *const T) -> Result<(), CK_RV> {
    if p.is_null() {
        Err(CKR_ARGUMENTS_BAD)
    } else {
        Ok(())
    }
}

/// The `len` bytes (or items) at `p`. NULL is accepted only with `len == 0`.
///
/// # Safety
/// `p` is NULL or points to `len` initialized `T`s (of a type valid for any bit pattern)
/// that nobody writes while `'a` lasts (the PKCS#11 contract for an input buffer and its
/// length, `'a` being the call).
pub(crate) unsafe fn slice<'a, T>(p: *const T, len: CK_ULONG) -> Result<&'a [T], CK_RV> {
    let len = usize::try_from(len).map_err(|_| CKR_ARGUMENTS_BAD)?;
    if len == 0 {
        return Ok(&[]);
    }
    if p.is_null() || !p.is_aligned() {
        return Err(CKR_ARGUMENTS_BAD);
    }
    // SAFETY: non-NULL and aligned; by this function's contract `len` readable items that
    // do not change while `'a` lasts.
    Ok(unsafe { std::slice::from_raw_parts(p, len) })
}

/// Copies a list out with the two-call convention: with `out` NULL, only `*count` is set; with
/// `*count` too small, `*count` is set and `CKR_BUFFER_TOO_SMALL` returned; else the items are
/// copied and `*count` set to their number.
///
/// # Safety
/// `count` is NULL or valid for reading and writing a `CK_ULONG`; `out` is NULL or valid for
/// writing as many `T`s as `*count` says on entry.
pub(crate) unsafe fn out_list<T: Copy>(
    items: &[T],
    out: *mut T,
    count: *mut CK_ULONG,
) -> Result<(), CK_RV> {
    // SAFETY: `count` is NULL or readable and writable, by this function's contract.
    let capacity = unsafe { read(count) }?;
    let needed = items.len() as CK_ULONG;
    // SAFETY: as above.
    unsafe { write(count, needed) }?;
    if out.is_null() {
        return Ok(());
    }
    if capacity < needed {
        return Err(CKR_BUFFER_TOO_SMALL);
    }
    if !out.is_aligned() {
        return Err(CKR_ARGUMENTS_BAD);
    }
    // SAFETY: non-NULL and aligned; by this function's contract room for `capacity` items,
    // and `capacity >= items.len()`. The regions cannot overlap: `items` is the module's.
    unsafe { std::ptr::copy_nonoverlapping(items.as_ptr(), out, items.len()) };
    Ok(())
}

/// An output byte buffer under the two-call convention, from [`out_buffer`]. Its pointers
/// stay valid for `'a` by the contract of the `unsafe fn` that made it, so filling it is safe.
pub(crate) struct OutBuffer<'a> {
    data: *mut u8,
    capacity: usize,
    len_ptr: *mut CK_ULONG,
    _caller: PhantomData<&'a mut [u8]>,
}

impl OutBuffer<'_> {
    /// Copies `bytes` out and sets the caller's length. `bytes` must fit (the caller of
    /// [`out_buffer`] gave an upper bound of the output length).
    pub(crate) fn fill(self, bytes: &[u8]) -> Result<(), CK_RV> {
        if bytes.len() > self.capacity {
            // The announced upper bound was wrong: report the real need, keep the operation.
            // SAFETY: `len_ptr` is non-NULL and writable for `'a` (the contract of
            // `out_buffer`/`out_buffer_upto`, which read it).
            unsafe { write(self.len_ptr, bytes.len() as CK_ULONG) }?;
            return Err(CKR_BUFFER_TOO_SMALL);
        }
        // SAFETY: `data` is non-NULL and writable for `capacity` bytes (the caller's `*pulLen`
        // on entry) while `'a` lasts, by the contract that made `self`; `bytes.len() <=
        // capacity`; `bytes` is the module's memory.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), self.data, bytes.len()) };
        // SAFETY: as for the length above.
        unsafe { write(self.len_ptr, bytes.len() as CK_ULONG) }
    }
}

impl OutBuffer<'_> {
    /// Lets `into` write the output straight into the caller's buffer (all `capacity` bytes
    /// of it; it returns how many it wrote, at most that), then sets the caller's length.
    /// PKCS#11 lets a caller pass one buffer as input and output: when the buffer overlaps
    /// `input`, the output `apart` computes is [`OutBuffer::fill`]ed instead.
    pub(crate) fn produce<B: AsRef<[u8]>>(
        self,
        input: &[u8],
        into: impl FnOnce(&mut [u8]) -> Result<usize, CK_RV>,
        apart: impl FnOnce() -> Result<B, CK_RV>,
    ) -> Result<(), CK_RV> {
        let out = self.data as usize..(self.data as usize).saturating_add(self.capacity);
        let inp = input.as_ptr() as usize..(input.as_ptr() as usize) + input.len();
        if !input.is_empty() && out.start < inp.end && inp.start < out.end {
            return self.fill(apart()?.as_ref());
        }
        // SAFETY: `data` is non-NULL and writable for `capacity` bytes while `'a` lasts (the
        // contract that made `self`), and those bytes overlap no other slice alive here
        // (checked against `input`, the call's only other caller memory). The slice does not
        // outlive this call.
        let buf = unsafe { std::slice::from_raw_parts_mut(self.data, self.capacity) };
        let len = into(buf)?;
        if len > self.capacity {
            return Err(CKR_GENERAL_ERROR);
        }
        // SAFETY: `len_ptr` is non-NULL and writable for `'a`, as in `fill`.
        unsafe { write(self.len_ptr, len as CK_ULONG) }
    }
}

/// The two-call convention for output bytes, given an upper bound `needed` of the output's
/// length. `len_ptr` NULL → `CKR_ARGUMENTS_BAD`. With `data` NULL, `*len_ptr = needed` and
/// `Ok(None)`: the caller answers `CKR_OK` and keeps its operation. With `*len_ptr < needed`,
/// `*len_ptr = needed` and `Err(CKR_BUFFER_TOO_SMALL)`: the caller keeps its operation too.
/// Otherwise a buffer to [`OutBuffer::fill`].
///
/// # Safety
/// `len_ptr` is NULL or valid for reading and writing a `CK_ULONG`, and `data` NULL or valid
/// for writing as many bytes as `*len_ptr` says on entry, both while `'a` lasts (the PKCS#11
/// contract for an output buffer and its length, `'a` being the call).
pub(crate) unsafe fn out_buffer<'a>(
    data: *mut u8,
    len_ptr: *mut CK_ULONG,
    needed: usize,
) -> Result<Option<OutBuffer<'a>>, CK_RV> {
    // SAFETY: `len_ptr` is NULL or readable and writable, by this function's contract.
    let capacity = unsafe { read(len_ptr) }?;
    if data.is_null() {
        // SAFETY: as above.
        unsafe { write(len_ptr, needed as CK_ULONG) }?;
        return Ok(None);
    }
    if capacity < needed as CK_ULONG {
        // SAFETY: as above.
        unsafe { write(len_ptr, needed as CK_ULONG) }?;
        return Err(CKR_BUFFER_TOO_SMALL);
    }
    Ok(Some(OutBuffer {
        data,
        capacity: usize::try_from(capacity).unwrap_or(usize::MAX),
        len_ptr,
        _caller: PhantomData,
    }))
}

/// The two-call convention for output bytes whose exact length is only known once the work
/// is done (decryption with padding), given an upper bound `max`. With `data` NULL,
/// `*len_ptr = max` and `Ok(None)`, as [`out_buffer`]. Otherwise the caller's buffer, whatever
/// its size: the caller computes, and [`OutBuffer::fill`] answers `CKR_BUFFER_TOO_SMALL` with
/// the exact length when the output does not fit (a caller whose buffer holds the real output
/// but not the bound is served).
///
/// # Safety
/// As [`out_buffer`].
pub(crate) unsafe fn out_buffer_upto<'a>(
    data: *mut u8,
    len_ptr: *mut CK_ULONG,
    max: usize,
) -> Result<Option<OutBuffer<'a>>, CK_RV> {
    // SAFETY: `len_ptr` is NULL or readable and writable, by this function's contract.
    let capacity = unsafe { read(len_ptr) }?;
    if data.is_null() {
        // SAFETY: as above.
        unsafe { write(len_ptr, max as CK_ULONG) }?;
        return Ok(None);
    }
    Ok(Some(OutBuffer {
        data,
        capacity: usize::try_from(capacity).unwrap_or(usize::MAX),
        len_ptr,
        _caller: PhantomData,
    }))
}

/// A mechanism's parameter as one `T` (`CK_GCM_PARAMS`, `CK_RSA_PKCS_PSS_PARAMS`, ...): a
/// NULL `pParameter`, or a `ulParameterLen` other than `size_of::<T>()`, is
/// `CKR_MECHANISM_PARAM_INVALID`.
///
/// # Safety
/// `mechanism.pParameter` is NULL or valid for reading `ulParameterLen` bytes (the PKCS#11
/// contract for a mechanism), and `T` is a C parameter structure any bit pattern of which is
/// valid.
pub(crate) unsafe fn param<T: Copy>(mechanism: &CK_MECHANISM) -> Result<T, CK_RV> {
    if mechanism.pParameter.is_null()
        || usize::try_from(mechanism.ulParameterLen) != Ok(std::mem::size_of::<T>())
    {
        return Err(CKR_MECHANISM_PARAM_INVALID);
    }
    // SAFETY: non-NULL and, by this function's contract, readable for `ulParameterLen` bytes,
    // which is the size of `T`, a type valid for any bit pattern.
    unsafe { read(mechanism.pParameter as *const T) }
}

/// A mechanism's parameter as bytes (an IV); NULL only with length 0.
/// Bad pointers are `CKR_MECHANISM_PARAM_INVALID`.
///
/// # Safety
/// `mechanism.pParameter` is NULL or points to `ulParameterLen` bytes nobody writes while
/// `'a` lasts.
pub(crate) unsafe fn param_bytes<'a>(mechanism: &CK_MECHANISM) -> Result<&'a [u8], CK_RV> {
    // SAFETY: this function's contract is `param_slice`'s for the mechanism's parameter.
    unsafe { param_slice(mechanism.pParameter as *const u8, mechanism.ulParameterLen) }
}

/// A byte buffer named inside a mechanism's parameter (an IV, AAD, a label, a public value):
/// NULL only with length 0, else `CKR_MECHANISM_PARAM_INVALID`.
///
/// # Safety
/// As [`slice`]: `p` is NULL or points to `len` bytes nobody writes while `'a` lasts (the
/// PKCS#11 contract for the buffers a mechanism's parameter names).
pub(crate) unsafe fn param_slice<'a>(p: *const u8, len: CK_ULONG) -> Result<&'a [u8], CK_RV> {
    // SAFETY: this function's contract is `slice`'s.
    unsafe { slice(p, len) }.map_err(|_| CKR_MECHANISM_PARAM_INVALID)
}

/// Fills a caller's buffer of exactly `len` bytes (`C_GenerateRandom`). NULL is accepted only
/// with `len == 0`.
///
/// # Safety
/// `data` is NULL or valid for writing `len` bytes that nobody else touches during the call.
pub(crate) unsafe fn fill_exact(
    data: *mut u8,
    len: CK_ULONG,
    f: impl FnOnce(&mut [u8]) -> Result<(), CK_RV>,
) -> Result<(), CK_RV> {
    let len = usize::try_from(len).map_err(|_| CKR_ARGUMENTS_BAD)?;
    if len == 0 {
        return f(&mut []);
    }
    if data.is_null() {
        return Err(CKR_ARGUMENTS_BAD);
    }
    // SAFETY: non-NULL; by this function's contract `len` writable bytes nobody else touches
    // during the call. The slice does not outlive this function.
    let buf = unsafe { std::slice::from_raw_parts_mut(data, len) };
    f(buf)
}

/// An input template (`C_CreateObject`, `C_FindObjectsInit`, key generation, ...): each
/// attribute's type and value bytes. NULL is accepted only with `count == 0`; a NULL value
/// with a non-zero length is `CKR_ARGUMENTS_BAD`.
///
/// # Safety
/// `p` is NULL or points to `count` `CK_ATTRIBUTE`s, and each one's `pValue` is NULL or
/// points to `ulValueLen` bytes, none of which anybody writes while `'a` lasts (the PKCS#11
/// contract for an input template).
pub(crate) unsafe fn template<'a>(
    p: *const CK_ATTRIBUTE,
    count: CK_ULONG,
) -> Result<Vec<(CK_ATTRIBUTE_TYPE, &'a [u8])>, CK_RV> {
    // SAFETY: by this function's contract, `p` is NULL or `count` attributes.
    let attributes = unsafe { slice(p, count) }?;
    attributes
        .iter()
        // SAFETY: by this function's contract, each value is NULL or `ulValueLen` bytes.
        .map(|a| {
            Ok((a.type_, unsafe {
                slice(a.pValue as *const u8, a.ulValueLen)
            }?))
        })
        .collect()
}

/// What `C_GetAttributeValue` answers for one attribute.
pub(crate) enum Answer {
    /// The value.
    Value(Vec<u8>),
    /// The object has it, but it may not be revealed (`CKR_ATTRIBUTE_SENSITIVE`).
    Sensitive,
    /// The object has no such attribute (`CKR_ATTRIBUTE_TYPE_INVALID`).
    Invalid,
}

/// Answers an output template attribute by attribute, the way `C_GetAttributeValue` must:
/// a NULL `pValue` gets the length; a short buffer, a sensitive or an unknown attribute gets
/// `CK_UNAVAILABLE_INFORMATION` as its length; every other attribute is still answered.
/// Returns the first such problem's code, or `CKR_OK`.
///
/// # Safety
/// `p` is NULL or points to `count` `CK_ATTRIBUTE`s the module may read and write, and each
/// one's `pValue` is NULL or valid for writing `ulValueLen` bytes (the PKCS#11 contract for
/// the template of `C_GetAttributeValue`).
pub(crate) unsafe fn answer_template(
    p: *mut CK_ATTRIBUTE,
    count: CK_ULONG,
    mut answer: impl FnMut(CK_ATTRIBUTE_TYPE) -> Result<Answer, CK_RV>,
) -> Result<CK_RV, CK_RV> {
    let len = usize::try_from(count).map_err(|_| CKR_ARGUMENTS_BAD)?;
    if len == 0 {
        return Ok(CKR_OK);
    }
    if p.is_null() || !p.is_aligned() {
        return Err(CKR_ARGUMENTS_BAD);
    }
    let mut rv = CKR_OK;
    let mut note = |code: CK_RV| {
        if rv == CKR_OK {
            rv = code;
        }
    };
    for i in 0..len {
        // SAFETY: non-NULL and aligned; by this function's contract `count` CK_ATTRIBUTEs at
        // `p`, and `i < count`.
        let attr = unsafe { p.add(i) };
        // SAFETY: `attr` points to one of them (see above).
        let a = unsafe { read(attr as *const CK_ATTRIBUTE) }?;
        let unavailable = CK_UNAVAILABLE_INFORMATION;
        let (length, code) = match answer(a.type_)? {
            Answer::Invalid => (unavailable, CKR_ATTRIBUTE_TYPE_INVALID),
            Answer::Sensitive => (unavailable, CKR_ATTRIBUTE_SENSITIVE),
            Answer::Value(v) if a.pValue.is_null() => (v.len() as CK_ULONG, CKR_OK),
            Answer::Value(v) if (a.ulValueLen as usize) < v.len() => {
                (unavailable, CKR_BUFFER_TOO_SMALL)
            }
            Answer::Value(v) => {
                // SAFETY: `pValue` is non-NULL, so by this function's contract `ulValueLen`
                // writable bytes; `v.len() <= ulValueLen`; `v` is the module's memory.
                unsafe { std::ptr::copy_nonoverlapping(v.as_ptr(), a.pValue as *mut u8, v.len()) };
                (v.len() as CK_ULONG, CKR_OK)
            }
        };
        // SAFETY: as above; only the length field of the caller's attribute is written.
        unsafe { std::ptr::addr_of_mut!((*attr).ulValueLen).write_unaligned(length) };
        note(code);
    }
    Ok(rv)
}

/// A NUL-terminated string (`C_GetInterface`'s name); `None` for NULL.
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string nobody writes while `'a` lasts
/// (PKCS#11's contract for `pInterfaceName`).
pub(crate) unsafe fn c_str<'a>(p: *const u8) -> Option<&'a std::ffi::CStr> {
    if p.is_null() {
        return None;
    }
    // SAFETY: non-NULL, so by this function's contract a NUL-terminated string that lives
    // and stays unchanged while `'a` lasts.
    Some(unsafe { std::ffi::CStr::from_ptr(p.cast()) })
}

/// A PIN argument (`C_Login`, `C_InitPIN`, `C_SetPIN`, `C_InitToken`). NULL →
/// `CKR_ARGUMENTS_BAD` whatever the length: there is no protected authentication path
/// (`CKF_PROTECTED_AUTHENTICATION_PATH` is never set).
///
/// # Safety
/// As [`slice`]: `pin` is NULL or points to `len` bytes nobody writes while `'a` lasts.
pub(crate) unsafe fn pin<'a>(pin: *const u8, len: CK_ULONG) -> Result<&'a [u8], CK_RV> {
    non_null(pin)?;
    // SAFETY: this function's contract is `slice`'s.
    unsafe { slice(pin, len) }
}

/// A string as a blank-padded fixed-size field (`CK_INFO`, `CK_SLOT_INFO`, `CK_TOKEN_INFO`):
/// truncated to `N` bytes at a character boundary, never NUL-terminated.
pub(crate) fn padded<const N: usize>(s: &str) -> [u8; N] {
    let mut out = [b' '; N];
    let mut end = s.len().min(N);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    out[..end].copy_from_slice(&s.as_bytes()[..end]);
    out
}

/// A value that may sit in an immutable `static` although it holds raw pointers: the
/// PKCS#11 interface records, whose pointers lead to other immutable statics.
#[repr(transparent)]
pub(crate) struct StaticPtrs<T>(pub T);

// SAFETY: only used for `static` items that are never mutated and whose pointers point to
// immutable statics (function tables, the interface name); sharing them between threads is
// sharing read-only data.
unsafe impl<T> Sync for StaticPtrs<T> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padded_fields_are_blank_filled_and_cut_at_char_boundaries() {
        assert_eq!(&padded::<6>("ab"), b"ab    ");
        assert_eq!(&padded::<3>("abcdef"), b"abc");
        // "é" is two bytes: a cut in its middle drops it.
        assert_eq!(&padded::<2>("aé"), b"a ");
    }

    #[test]
    fn null_pointers_are_arguments_bad() {
        // SAFETY: every pointer given is NULL or points to a live local of the size given.
        unsafe {
            assert_eq!(read::<u64>(std::ptr::null()), Err(CKR_ARGUMENTS_BAD));
            assert_eq!(
                write::<u64>(std::ptr::null_mut(), 1),
                Err(CKR_ARGUMENTS_BAD)
            );
            assert_eq!(slice::<u8>(std::ptr::null(), 1), Err(CKR_ARGUMENTS_BAD));
            assert_eq!(slice::<u8>(std::ptr::null(), 0), Ok(&[][..]));
            assert_eq!(
                pin(std::ptr::null(), 0),
                Err(CKR_ARGUMENTS_BAD),
                "a NULL PIN even with length 0"
            );
        }
    }

    #[test]
    fn two_call_list() {
        // SAFETY: every pointer given is NULL or points to a live local of the size given.
        unsafe {
            let items = [7u64, 8, 9];
            let mut count: CK_ULONG = 0;
            assert_eq!(out_list(&items, std::ptr::null_mut(), &mut count), Ok(()));
            assert_eq!(count, 3);
            let mut out = [0u64; 3];
            count = 2;
            assert_eq!(
                out_list(&items, out.as_mut_ptr(), &mut count),
                Err(CKR_BUFFER_TOO_SMALL)
            );
            assert_eq!(count, 3);
            assert_eq!(out_list(&items, out.as_mut_ptr(), &mut count), Ok(()));
            assert_eq!(out, items);
        }
    }

    #[test]
    fn two_call_bytes_with_an_upper_bound() {
        // SAFETY: every pointer given is NULL or points to a live local of the size given.
        unsafe {
            let mut len: CK_ULONG = 0;
            assert!(matches!(
                out_buffer_upto(std::ptr::null_mut(), &mut len, 32),
                Ok(None)
            ));
            assert_eq!(len, 32);
            // A buffer smaller than the bound still gets the output when it fits.
            let mut buf = [0u8; 10];
            len = 10;
            let out = out_buffer_upto(buf.as_mut_ptr(), &mut len, 32)
                .unwrap()
                .unwrap();
            out.fill(&[2; 10]).unwrap();
            assert_eq!((len, buf), (10, [2; 10]));
            // When it does not, the exact length comes back.
            len = 5;
            let out = out_buffer_upto(buf.as_mut_ptr(), &mut len, 32)
                .unwrap()
                .unwrap();
            assert_eq!(out.fill(&[3; 7]), Err(CKR_BUFFER_TOO_SMALL));
            assert_eq!(len, 7);
            assert_eq!(buf, [2; 10], "nothing written");
        }
    }

    #[test]
    fn mechanism_parameters_by_exact_size() {
        // SAFETY: every pointer given is NULL or points to a live local of the size given.
        unsafe {
            let value: u64 = 0x1122;
            let mut m = CK_MECHANISM {
                mechanism: 0,
                pParameter: &value as *const u64 as *mut std::ffi::c_void,
                ulParameterLen: 8,
            };
            assert_eq!(param::<u64>(&m), Ok(0x1122));
            assert_eq!(param::<u32>(&m), Err(CKR_MECHANISM_PARAM_INVALID));
            assert_eq!(param_bytes(&m).map(<[u8]>::len), Ok(8));
            m.ulParameterLen = 9;
            assert_eq!(param::<u64>(&m), Err(CKR_MECHANISM_PARAM_INVALID));
            m.pParameter = std::ptr::null_mut();
            m.ulParameterLen = 8;
            assert_eq!(param::<u64>(&m), Err(CKR_MECHANISM_PARAM_INVALID));
            assert_eq!(param_bytes(&m), Err(CKR_MECHANISM_PARAM_INVALID));
            m.ulParameterLen = 0;
            assert_eq!(param_bytes(&m), Ok(&[][..]));
        }
    }

    #[test]
    fn two_call_bytes() {
        // SAFETY: every pointer given is NULL or points to a live local of the size given.
        unsafe {
            let mut len: CK_ULONG = 0;
            assert!(matches!(
                out_buffer(std::ptr::null_mut(), &mut len, 32),
                Ok(None)
            ));
            assert_eq!(len, 32);
            let mut buf = [0u8; 40];
            len = 31;
            assert!(matches!(
                out_buffer(buf.as_mut_ptr(), &mut len, 32),
                Err(CKR_BUFFER_TOO_SMALL)
            ));
            assert_eq!(len, 32);
            len = 40;
            let out = out_buffer(buf.as_mut_ptr(), &mut len, 32).unwrap().unwrap();
            out.fill(&[1; 20]).unwrap();
            assert_eq!(len, 20);
            assert_eq!(&buf[..21], &[[1u8; 20].as_slice(), &[0]].concat()[..]);
        }
    }
}
