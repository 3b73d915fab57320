#include "../render.h"
void cs__sh_range_avx2(const cs_sh_args *a, int64_t begin, int64_t end) {
    cs__sh_range(a, begin, end);
}
