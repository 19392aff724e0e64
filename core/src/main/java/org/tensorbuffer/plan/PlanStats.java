package org.tensorbuffer.plan;

/**
 * Counters of a {@link PlannedAllocator}, a snapshot.
 *
 * @param runs                  runs begun
 * @param recordedRuns          runs that were recorded to make a plan
 * @param replayedRuns          runs that were served entirely from the arena as planned
 * @param divergentRuns         runs that left the plan (and finished on the fallback pool)
 * @param plannedAllocations    allocations served by an arena slice
 * @param fallbackAllocations   allocations served by the fallback pool during a run (recording, after a divergence)
 * @param unplannedAllocations  allocations outside any run (served by the fallback pool)
 * @param arenaAllocations      device allocations made for arenas (1 per installed plan that needed a new arena)
 * @param arenaBytes            size of the current arena in bytes (0 if none)
 * @param lastDivergence        why the last divergent run left the plan, or {@code null}
 */
public record PlanStats(long runs, long recordedRuns, long replayedRuns, long divergentRuns, long plannedAllocations,
                        long fallbackAllocations, long unplannedAllocations, long arenaAllocations, long arenaBytes,
                        String lastDivergence) {
}
