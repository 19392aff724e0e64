/**
 * Element types and shapes: {@link org.tensorbuffer.types.DType} and {@link org.tensorbuffer.types.Shape}
 * (row-major, element counts and byte sizes). A leaf package: it depends on nothing else in TensorBuffer, so that
 * {@code device}, {@code memory} and {@code plan} can use it without depending on the tensor API.
 *
 * <p>Public types (the API; {@code CorePublicSurfaceTest} holds the code to this list): {@code DType}, {@code Shape}.
 */
package org.tensorbuffer.types;
