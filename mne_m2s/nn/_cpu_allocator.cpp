/* Caching allocator for torch's large CPU blocks (mne_m2s.nn._allocator).

   Why: with glibc's malloc, a pre-training step frees and takes again a few
   hundred megabytes of tensors of the same sizes. glibc serves blocks under
   its (dynamic) mmap threshold from one heap, where torch's many small
   allocations split the freed large blocks: the heap grows about 170 MB above
   the bytes in use; blocks above the threshold go back to the system and come
   back as page faults. This allocator keeps large blocks (>= a threshold,
   1 MiB) whole, in a cache of its own, while it is *active*; everything else
   goes to the allocator it replaced.

   Blocks: mmap'ed, sizes rounded up to 64 KiB, reused for a request of at
   least half their size. The mapped bytes stay within the high-water mark of
   the bytes in use plus a slack (max(32 MiB, mark / 8)): on a miss, the
   oldest cached blocks are unmapped until the new one fits, so the resident
   memory never grows beyond what the step's live tensors needed.

   Install: the first activation makes this allocator torch's CPU allocator
   (c10::SetCPUAllocator, priority 0) for good: torch's oneDNN glue frees raw
   buffers through whichever allocator is current, so it must stay installed
   to free its blocks; while not active it passes every request to the
   allocator it replaced (no cache). Every block freed through it is looked up
   (a hash map): its own are cached, others go to the replaced allocator's
   deleter. m2s_allocator_release (end of pre-training) unmaps the cache, and
   blocks freed after it until the next activation. The state is never
   destroyed (blocks may be freed at exit). */

#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>
#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <unordered_map>

namespace {

constexpr size_t kGranule = size_t(64) << 10;
constexpr size_t kMinSlack = size_t(32) << 20;

struct Cached {
  char* base;
  uint64_t stamp;
};

struct State {
  std::mutex mu;
  std::multimap<size_t, Cached> cache;        // free blocks by size
  std::unordered_map<void*, size_t> in_use;  // blocks held by tensors: base -> size
  size_t mapped = 0, cached = 0, high_water = 0, peak_mapped = 0;
  uint64_t stamp = 0, hits = 0, misses = 0, evictions = 0, failures = 0;
  bool draining = false;  // released and not active since: unmap freed blocks
};

State& state() {
  static State* s = new State();  // never destroyed: blocks may be freed at exit
  return *s;
}

std::mutex g_install_mu;
std::atomic<int> g_active{0};
std::atomic<size_t> g_threshold{size_t(1) << 20};
c10::Allocator* g_prev = nullptr;

void unmap(State& s, char* base, size_t size) {  // s.mu held
  munmap(base, size);
  s.mapped -= size;
}

void evict_oldest(State& s) {  // s.mu held, cache not empty
  auto old = s.cache.begin();
  for (auto it = s.cache.begin(); it != s.cache.end(); ++it)
    if (it->second.stamp < old->second.stamp) old = it;
  s.cached -= old->first;
  s.evictions++;
  unmap(s, old->second.base, old->first);
  s.cache.erase(old);
}

void release_cache(State& s) {  // s.mu held
  for (auto& kv : s.cache) unmap(s, kv.second.base, kv.first);
  s.cache.clear();
  s.cached = 0;
}

/* A block of at least ``need`` bytes (a multiple of kGranule), or nullptr. */
char* take(State& s, size_t need, size_t* size) {  // s.mu held
  auto it = s.cache.lower_bound(need);
  if (it != s.cache.end() && it->first <= 2 * need) {
    char* base = it->second.base;
    *size = it->first;
    s.cached -= it->first;
    s.cache.erase(it);
    s.hits++;
    s.in_use.emplace(base, *size);
    return base;
  }
  s.misses++;
  s.high_water = std::max(s.high_water, s.mapped - s.cached + need);
  size_t slack = std::max(kMinSlack, s.high_water / 8);
  while (!s.cache.empty() && s.mapped + need > s.high_water + slack) evict_oldest(s);
  void* p = mmap(nullptr, need, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED && !s.cache.empty()) {
    release_cache(s);
    p = mmap(nullptr, need, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  }
  if (p == MAP_FAILED) {
    s.failures++;
    return nullptr;
  }
  char* base = static_cast<char*>(p);
  *size = need;
  s.mapped += need;
  s.peak_mapped = std::max(s.peak_mapped, s.mapped);
  s.in_use.emplace(base, need);
  return base;
}

void delete_block(void* data) {
  void* block = data;
  State& s = state();
  {
    std::lock_guard<std::mutex> lock(s.mu);
    auto it = s.in_use.find(data);
    if (it != s.in_use.end()) {
      if (s.draining) {
        unmap(s, static_cast<char*>(data), it->second);
      } else {
        s.cache.emplace(it->second, Cached{static_cast<char*>(data), ++s.stamp});
        s.cached += it->second;
      }
      s.in_use.erase(it);
      data = nullptr;
    }
  }
  if (data == nullptr) {
    c10::profiledCPUMemoryReporter().Delete(block);
    return;
  }
  c10::DeleterFnPtr prev = g_prev->raw_deleter();  // a block of the replaced allocator
  if (prev != nullptr) prev(data);
}

class CachingCPUAllocator final : public c10::Allocator {
 public:
  c10::DataPtr allocate(size_t n) override {
    if (g_active.load(std::memory_order_relaxed) <= 0 ||
        n < g_threshold.load(std::memory_order_relaxed))
      return g_prev->allocate(n);
    size_t need = (n + kGranule - 1) / kGranule * kGranule, size = 0;
    char* base;
    {
      State& s = state();
      std::lock_guard<std::mutex> lock(s.mu);
      base = take(s, need, &size);
    }
    if (base == nullptr) return g_prev->allocate(n);  // out of memory: its error
    c10::profiledCPUMemoryReporter().New(base, size);
    return {base, base, &delete_block, c10::Device(c10::DeviceType::CPU)};
  }

  c10::DeleterFnPtr raw_deleter() const override { return &delete_block; }

  void copy_data(void* dest, const void* src, std::size_t count) const override {
    default_copy_data(dest, src, count);
  }
};

// never destroyed: torch may free blocks through it while the process exits
CachingCPUAllocator* const g_allocator = new CachingCPUAllocator();

}  // namespace

/* Activate (nested calls count). 0: active; -1: torch keeps an allocator of
   higher priority; -2: another allocator replaced this one after it was
   installed (refused: its raw blocks would be freed by the wrong deleter). */
extern "C" int m2s_allocator_activate(size_t threshold) {
  std::lock_guard<std::mutex> lock(g_install_mu);
  c10::Allocator* current = c10::GetCPUAllocator();
  if (current != g_allocator) {
    if (g_prev != nullptr) return -2;
    g_prev = current;
    c10::SetCPUAllocator(g_allocator, 0);
    if (c10::GetCPUAllocator() != g_allocator) {
      g_prev = nullptr;
      return -1;
    }
  }
  g_threshold.store(threshold);
  g_active.fetch_add(1);
  {
    State& s = state();
    std::lock_guard<std::mutex> lock(s.mu);
    s.draining = false;
  }
  return 0;
}

extern "C" void m2s_allocator_deactivate(void) {
  std::lock_guard<std::mutex> lock(g_install_mu);
  if (g_active.load() > 0) g_active.fetch_sub(1);
}

/* Unmap the cached blocks, and the blocks in use as they are freed until the
   next activation; reset the high-water mark to the bytes in use. */
extern "C" void m2s_allocator_release(void) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  release_cache(s);
  s.high_water = s.mapped;
  s.draining = g_active.load() == 0;
}

/* mapped, cached, in use, high-water mark, peak mapped (bytes); hits, misses,
   evictions, failures; active depth; installed (1/0). */
extern "C" void m2s_allocator_stats(uint64_t* out) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  out[0] = s.mapped;
  out[1] = s.cached;
  out[2] = s.mapped - s.cached;
  out[3] = s.high_water;
  out[4] = s.peak_mapped;
  out[5] = s.hits;
  out[6] = s.misses;
  out[7] = s.evictions;
  out[8] = s.failures;
  out[9] = uint64_t(std::max(0, g_active.load()));
  out[10] = c10::GetCPUAllocator() == g_allocator ? 1 : 0;
}
