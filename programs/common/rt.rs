//! The runtime pieces every SBF program needs: a panic handler and the C memory builtins.
// ---------------------------------------------------------------- panics

/// Panic handler: pinocchio's reads the file name from the panic Location, whose pointer
/// lives in .rodata and is not relocated by sbpf-linker (see README), so report a fixed
/// message through `sol_panic_` instead (shows as "SBF program panicked" + "program:0:0").
macro_rules! gridx_panic_handler {
    () => {
        #[panic_handler]
        fn panic(_info: &core::panic::PanicInfo<'_>) -> ! {
            let msg = concat!(env!("CARGO_PKG_NAME"), " panicked");
            // SAFETY: `msg` is a 'static str; the syscall reads `msg.len()` bytes and aborts.
            unsafe { pinocchio::syscalls::sol_panic_(msg.as_ptr(), msg.len() as u64, 0, 0) }
        }
    };
}
pub(crate) use gridx_panic_handler;

// ---------------------------------------------------------------- memory builtins
// LLVM lowers large copies/fills to calls to memcpy/memset/...; on Solana those are provided
// by the sol_mem*_ syscalls. compiler_builtins (build-std) does not export them for
// bpfel-unknown-none and sbpf-linker cannot resolve them otherwise.

/// # Safety
/// The C contract: `dst` and `src` valid for `n` bytes and not overlapping.
#[no_mangle]
// SAFETY: exported as the C symbol LLVM calls; the syscall has memcpy's contract.
pub unsafe extern "C" fn memcpy(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    pinocchio::syscalls::sol_memcpy_(dst, src, n as u64);
    dst
}

/// # Safety
/// The C contract: `dst` and `src` valid for `n` bytes (they may overlap).
#[no_mangle]
// SAFETY: exported as the C symbol LLVM calls; the syscall has memmove's contract.
pub unsafe extern "C" fn memmove(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    pinocchio::syscalls::sol_memmove_(dst, src, n as u64);
    dst
}

/// # Safety
/// The C contract: `s` valid for `n` writable bytes.
#[no_mangle]
// SAFETY: exported as the C symbol LLVM calls; the syscall has memset's contract.
pub unsafe extern "C" fn memset(s: *mut u8, c: i32, n: usize) -> *mut u8 {
    pinocchio::syscalls::sol_memset_(s, c as u8, n as u64);
    s
}

/// # Safety
/// The C contract: `a` and `b` valid for `n` readable bytes.
#[no_mangle]
// SAFETY: exported as the C symbol LLVM calls; the syscall writes its result into `r`.
pub unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    let mut r: i32 = 0;
    pinocchio::syscalls::sol_memcmp_(a, b, n as u64, &mut r as *mut i32);
    r
}

/// # Safety
/// The C contract: `a` and `b` valid for `n` readable bytes.
#[no_mangle]
// SAFETY: same contract as `memcmp`, which it calls.
pub unsafe extern "C" fn bcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    memcmp(a, b, n)
}
