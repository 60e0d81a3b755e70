/* hmap against a brute-force array of keys under random puts and deletes. */
#include "test.h"

#include "base/hmap.h"

TEST(hmap_random_ops)
{
    struct hmap m;
    hmap_init(&m);
    static int present[5000];
    static int vals[5000];
    uint64_t s = 12345;
    int wrong = 0;
    for (int step = 0; step < 200000; step++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        int k = (int)((s >> 33) % 5000);
        char key[32];
        int len = snprintf(key, sizeof key, "k%d", k);
        int op = (int)((s >> 20) % 3);
        if (op == 0) {
            hmap_put(&m, key, (size_t)len, &vals[k]);
            present[k] = 1;
        } else if (op == 1) {
            void *v = hmap_del(&m, key, (size_t)len);
            if ((v != NULL) != present[k] || (v && v != &vals[k]))
                wrong++;
            present[k] = 0;
        } else {
            void *v = hmap_get(&m, key, (size_t)len);
            if ((v != NULL) != present[k] || (v && v != &vals[k]))
                wrong++;
        }
    }
    size_t n = 0;
    for (int k = 0; k < 5000; k++)
        n += (size_t)present[k];
    CHECK_EQ_INT(wrong, 0);
    CHECK_EQ_INT(m.len, n);
    hmap_release(&m);
}

TEST_MAIN()
