/**
 * The liveness planner behind the {@code PLANNED} strategy: a recorder logs one run's allocations and releases
 * ({@link org.tensorbuffer.plan.AllocationTrace}, or {@link org.tensorbuffer.plan.AllocationTrace.Builder} for a
 * schedule); a
 * {@link org.tensorbuffer.plan.PlanningAlgorithm} (greedy by size, greedy by breadth, best fit; after Pisarchyk and
 * Lee, "Efficient Memory Management for Deep Neural Net Inference", 2020) lays them out in one arena
 * ({@link org.tensorbuffer.plan.MemoryPlan}); {@link org.tensorbuffer.plan.PlannedAllocator} replays later runs into an
 * arena (one device allocation carved at the planned offsets), falling back to the BufferPool where a run differs.
 *
 * <p>User-facing: {@code PlannedAllocator}, {@code PlannedRun}, {@code PlanCache} (plans per input signature),
 * {@code MemoryPlan}, {@code PlanStats}, {@code PlanningAlgorithm}, {@code AllocationTrace}, {@code AllocationRecord},
 * {@code PlanSvg}. The recorder and the arena are block owners (see {@link org.tensorbuffer.memory.BlockOwner})
 * internal to {@code PlannedAllocator}: package-private.
 *
 * <p>Public types (the API; {@code CorePublicSurfaceTest} holds the code to this list): {@code AllocationRecord},
 * {@code AllocationTrace}, {@code MemoryPlan}, {@code PlanCache}, {@code PlanStats}, {@code PlanSvg},
 * {@code PlannedAllocator}, {@code PlannedRun}, {@code PlanningAlgorithm}.
 */
package org.tensorbuffer.plan;
