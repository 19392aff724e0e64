package org.tensorbuffer.bench;

import java.lang.management.ManagementFactory;
import java.util.Collection;
import java.util.List;
import org.openjdk.jmh.infra.BenchmarkParams;
import org.openjdk.jmh.infra.IterationParams;
import org.openjdk.jmh.profile.InternalProfiler;
import org.openjdk.jmh.results.AggregationPolicy;
import org.openjdk.jmh.results.IterationResult;
import org.openjdk.jmh.results.Result;
import org.openjdk.jmh.results.ScalarResult;

/**
 * A JMH profiler that adds {@code cpu.time.norm}: CPU time of the whole benchmark JVM per operation, in ns/op (the
 * process CPU time over an iteration divided by the operations of all threads).
 *
 * <p>JMH's primary score is wall-clock time per operation per thread. On a shared or small machine that includes time
 * a thread spent waiting for a core (other processes, or more benchmark threads than cores), so it is the noisier and
 * the more pessimistic figure; CPU time per operation is the cost of the operation itself, and with several threads
 * it is the per-operation cost that the 4-thread target compares. It includes the JVM's own threads (JIT compiler,
 * GC) during the iteration: negligible after warm-up for code that does not allocate, and part of the cost for code
 * that does. Register with {@code -prof org.tensorbuffer.bench.CpuTimeProfiler} or
 * {@code OptionsBuilder.addProfiler(CpuTimeProfiler.class)}.
 */
public final class CpuTimeProfiler implements InternalProfiler {
    /** The name of the secondary result. */
    public static final String KEY = "cpu.time.norm";
    private long startCpu;

    /** Created by JMH by reflection. */
    public CpuTimeProfiler() {
    }

    @Override
    public String getDescription() {
        return "Process CPU time per operation (ns/op), all threads";
    }

    @Override
    public void beforeIteration(BenchmarkParams benchmarkParams, IterationParams iterationParams) {
        startCpu = processCpuNanos();
    }

    @Override
    public Collection<? extends Result> afterIteration(BenchmarkParams benchmarkParams,
                                                       IterationParams iterationParams, IterationResult result) {
        long cpu = processCpuNanos() - startCpu;
        long ops = result.getMetadata().getAllOps();
        if (cpu < 0 || ops <= 0) {
            return List.of();
        }
        return List.of(new ScalarResult(KEY, (double) cpu / ops, "ns/op", AggregationPolicy.AVG));
    }

    private static long processCpuNanos() {
        if (ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os) {
            return os.getProcessCpuTime();
        }
        return -1;
    }
}
