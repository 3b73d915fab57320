#include "../render.h"
void cs__project_range_avx2(const cs_project_args *a, int64_t begin, int64_t end) {
    cs__project_range(a, begin, end);
}
