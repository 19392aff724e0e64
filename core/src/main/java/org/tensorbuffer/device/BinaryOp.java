package org.tensorbuffer.device;

/** Elementwise binary operations of {@link Kernels#binary}: {@code out[i] = a[i] op b[i]}. */
public enum BinaryOp {
    ADD, SUB, MUL, DIV
}
