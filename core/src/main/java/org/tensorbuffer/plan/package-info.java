/**
 * The liveness planner behind the {@code PLANNED} strategy: a {@link org.tensorbuffer.plan.Recorder} logs one run's
 * allocations and releases ({@link org.tensorbuffer.plan.AllocationTrace}); a
 * {@link org.tensorbuffer.plan.PlanningAlgorithm} (greedy by size, greedy by breadth, best fit; after Pisarchyk and
 * Lee, "Efficient Memory Management for Deep Neural Net Inference", 2020) lays them out in one arena
 * ({@link org.tensorbuffer.plan.MemoryPlan}); {@link org.tensorbuffer.plan.PlannedAllocator} replays later runs into an
 * {@link org.tensorbuffer.plan.Arena}, falling back to the BufferPool where a run differs.
 *
 * <p>User-facing: {@code PlannedAllocator}, {@code PlannedRun}, {@code MemoryPlan}, {@code PlanStats},
 * {@code PlanningAlgorithm}, {@code AllocationTrace}, {@code AllocationRecord}, {@code PlanSvg}. {@code Arena} and
 * {@code Recorder} are block owners (see {@link org.tensorbuffer.memory.BlockOwner}) used by the allocator.
 */
package org.tensorbuffer.plan;
