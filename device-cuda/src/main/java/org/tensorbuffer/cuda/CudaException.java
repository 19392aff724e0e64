package org.tensorbuffer.cuda;

import jcuda.driver.CUresult;

/**
 * A CUDA driver or cuBLAS call failed. The message names the call and the error ({@code CUDA_ERROR_...} name and
 * number); {@link #code()} is the raw result.
 */
public class CudaException extends RuntimeException {
    private final int code;

    /**
     * @param call     what was called, e.g. {@code cuMemAlloc(1048576)}
     * @param code     the {@code CUresult} or {@code cublasStatus_t}
     * @param codeName the symbolic name of {@code code}
     */
    CudaException(String call, int code, String codeName) {
        super(call + " failed: " + codeName + " (" + code + ")");
        this.code = code;
    }

    /** The raw result code of the failed call. */
    public int code() {
        return code;
    }

    /**
     * Throws if a driver call did not return {@code CUDA_SUCCESS}.
     *
     * @param result the {@code CUresult}
     * @param call   names the call for the message
     * @throws CudaException naming the call and the error unless {@code result == CUDA_SUCCESS}
     */
    static void check(int result, String call) {
        if (result != CUresult.CUDA_SUCCESS) {
            throw new CudaException(call, result, CUresult.stringFor(result));
        }
    }
}
