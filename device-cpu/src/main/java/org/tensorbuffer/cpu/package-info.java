/**
 * The {@code cpu} device: native memory through the FFM API ({@code posix_memalign}/{@code free}, 64-byte aligned),
 * GEMM through OpenBLAS when {@code libopenblas} is found, else a Vector API GEMM, and Vector API kernels for the
 * rest. Needs {@code --enable-native-access=ALL-UNNAMED} and {@code --add-modules jdk.incubator.vector}.
 *
 * <p>Public: {@link org.tensorbuffer.cpu.CpuDevice} (with an optional memory limit for tests) and its
 * {@link org.tensorbuffer.cpu.CpuDeviceProvider}; {@code CpuKernels} and {@code Gemm} are used by the benchmarks.
 * Found through {@code Devices.get("cpu")}.
 *
 * <p>Generated F32/F64 pairs: code that exists once per element type ({@code JavaGemmF32}/{@code JavaGemmF64},
 * {@code JavaGemvF32}/{@code JavaGemvF64}, {@code SmallGemmF32}/{@code SmallGemmF64},
 * {@code SmallVectorGemmF32}/{@code SmallVectorGemmF64}, {@code OuterProductF32}/{@code OuterProductF64},
 * {@code VectorLoopsF32}/{@code VectorLoopsF64}) is written once, as
 * {@code device-cpu/src/main/java-templates/org/tensorbuffer/cpu/Name-X.java.template}, the way the JDK generates its
 * Vector API classes from {@code X-Vector.java.template}. In {@code generate-sources} the build (maven-antrun-plugin,
 * {@code device-cpu/pom.xml}) copies each template twice into {@code target/generated-sources/templates}, replacing
 * {@code $type$} ({@code float}/{@code double}), {@code $Type$} ({@code Float}/{@code Double}, so
 * {@code $Type$Vector} is {@code FloatVector}/{@code DoubleVector}), {@code $Tag$} ({@code F32}/{@code F64}),
 * {@code $bytes$} ({@code 4}/{@code 8}) and {@code $LAYOUT$}
 * ({@code JAVA_FLOAT_UNALIGNED}/{@code JAVA_DOUBLE_UNALIGNED}); build-helper-maven-plugin adds that folder to the
 * sources. The generated classes are plain {@code float} and {@code double} code with their own species and layout
 * constants: no generics, no boxing, so the same speed as hand-written twins. Edit the template, never the
 * generated file; a new pair is one template plus two {@code <expand>} lines in the pom.
 */
package org.tensorbuffer.cpu;
