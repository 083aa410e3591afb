export declare const CHALLENGE_SOLUTION_HEADER: "x-challenge-solution";
export declare function leadingZeroBitsOfHex(hex: string): number;
export declare function solveChallenge(challenge: string, difficulty: number, sha256hex: (text: string) => string): string;
